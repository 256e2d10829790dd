"""Layer names as the commands show them, and the one lookup that accepts every one of them.

The names a user reads for a layer, and where:

- the row key (``summary``, ``check``, ``profile``, ``explain``): ``block.conv1``, a shared
  module's later call ``block.relu#2``, a functional op ``block:add`` (``:add`` at the root);
- ``compare``'s per-layer rows: the row key below the model's single top container
  (:func:`short_key`: ``conv1`` for ``block.conv1``, ``relu#2``, ``:add``);
- dotted module paths, containers included, as ``torch.nn.Module.named_modules`` and ``show``
  give them (``layer1.0.conv1``, ``layer1.0``: every call of the module, every layer under it);
- stages (``compare``, ``explain``): ``stem``, ``layer1``, ``head``, ``conv1..conv3``;
- ``summary --depth`` groups: module prefixes, ``<module>:<op>``, ``(root)`` and ``(root):<op>``.

:func:`select` resolves each of them to the report's rows; any other name is a one-line
error naming the closest known names.
"""

from __future__ import annotations

from paramscope.errors import ParamscopeError, closest
from paramscope.reconciling.grouping import stage_prefix, stages
from paramscope.reconciling.report import LayerRow, Report

#: how ``summary --depth`` names the root module
ROOT = "(root)"


def short_key(key: str, prefix: str) -> str:
    """``key`` below ``prefix`` (:func:`stage_prefix`, e.g. ``"block."``): ``block.conv1`` ->
    ``conv1``, ``block:add`` -> ``:add``; keys outside the prefix are kept whole."""
    if prefix and key.startswith(prefix):
        return key[len(prefix):]
    if prefix and key.startswith(prefix[:-1] + ":"):
        return key[len(prefix) - 1:]
    return key


def _full_key(short: str, prefix: str) -> str:
    """The inverse of :func:`short_key` for a name below ``prefix``."""
    return prefix[:-1] + short if short.startswith(":") else prefix + short


def _lookup(report: Report, name: str) -> list[LayerRow]:
    """Rows of a row key, or of a module path (every call of it and every layer under it)."""
    exact = [r for r in report.layers if r.node.key == name]
    if exact and ("#" in name or ":" in name):
        return exact
    rows = [r for r in report.layers if r.node.name == name or r.node.name.startswith(name + ".")]
    return rows or exact


def shown_names(report: Report) -> list[str]:
    """Every name a command shows for a layer, module or stage of ``report`` (sorted)."""
    prefix = stage_prefix(report)
    names = {*report.modules, *(r.node.key for r in report.layers), *(g.name for g in stages(report))}
    names |= {short_key(r.node.key, prefix) for r in report.layers}
    return sorted(names - {""})


def select(report: Report, name: str) -> list[LayerRow]:
    """The rows a layer name (any spelling in the module docstring) stands for.

    Raises ParamscopeError (one line, with the closest names) for a name no command shows.
    """
    name = name.strip()
    if name in (ROOT, ""):  # the root module: summary's tree and CSV name it ""
        return list(report.layers)
    wanted = name.replace(ROOT, "", 1) if name.startswith(ROOT + ":") else name
    rows = _lookup(report, wanted) if wanted else []
    prefix = stage_prefix(report)
    if not rows and prefix and wanted:  # compare's names below the single top container
        rows = _lookup(report, _full_key(wanted, prefix))
    if not rows:
        rows = next((g.rows for g in stages(report) if g.name == name), [])
    if rows:
        return rows
    if name in report.modules:
        raise ParamscopeError(f"module {name!r} of {report.target} has no layer calls (its forward never "
                              "ran, or it holds no layers)")
    candidates = shown_names(report)
    hint = closest(name, candidates, n=5)
    if not hint:
        top = [c for c in candidates if "." not in c and ":" not in c and "#" not in c][:12]
        hint = f" (layers include {', '.join(top)})" if top else ""
    raise ParamscopeError(f"no layer {name!r} in {report.target}{hint}")
