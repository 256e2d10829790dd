"""paramscope: parameters, MACs and FLOPs of PyTorch networks, derived and measured.

``build(target)`` makes an nn.Module from a built-in config, a YAML spec or a
``module:callable`` factory; ``analyze(target_or_module, ...)`` returns a Report.
Importing paramscope does not import torch.
"""

__version__ = "0.1.0"
__all__ = ["build", "analyze", "resolve_spec", "ParamscopeError", "__version__"]


def __getattr__(name: str):
    if name in ("build", "resolve_spec"):
        from paramscope import api
        return getattr(api, name)
    if name == "analyze":
        from paramscope.analysis import analyze
        return analyze
    if name == "ParamscopeError":
        from paramscope.errors import ParamscopeError
        return ParamscopeError
    raise AttributeError(f"module 'paramscope' has no attribute {name!r}")
