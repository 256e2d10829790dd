"""paramscope: parameters, MACs and FLOPs of PyTorch networks, derived and measured.

``build(target)`` makes an nn.Module from a built-in config, a YAML spec or a
``module:callable`` factory; ``analyze(target_or_module, ...)`` returns a Report;
``summary(model, input_size=...)`` takes torchinfo's arguments and prints the Report.
Importing paramscope does not import torch.
"""

__version__ = "0.1.0"
__all__ = ["analyze", "build", "summary", "resolve_spec", "builtin_targets", "Report", "ParamscopeError",
           "__version__"]

#: public name -> the module that defines it (imported on first use: no torch at import time)
_LAZY = {"analyze": "paramscope.analysis", "build": "paramscope.api", "resolve_spec": "paramscope.api",
         "builtin_targets": "paramscope.api", "summary": "paramscope.summary_api",
         "Report": "paramscope.reconciling.report", "ParamscopeError": "paramscope.errors"}


def __getattr__(name: str):
    """The public API, imported lazily from the module that defines each name."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'paramscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    """``dir(paramscope)`` lists the public API beside the module's own names."""
    return sorted(set(globals()) | set(__all__))
