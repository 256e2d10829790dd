"""Public entry points: resolve a target's spec, build a model.  Library code never prints."""

from __future__ import annotations

from typing import Any

from paramscope.graph import Shape
from paramscope.spec.document import Document, parse_file
from paramscope.spec.library import resolve_import
from paramscope.spec.resolve import Resolved, resolve
from paramscope.building.targets import Target, load_factory, parse_target


def load_document(target: str | Target) -> Document:
    """Parse a built-in name or YAML path into a Document (imports linked, nothing resolved)."""
    t = parse_target(target) if isinstance(target, str) else target
    if t.kind != "spec":
        raise ValueError(f"{t.text} is a factory, not a spec")
    return parse_file(t.path, resolve_import)


def builtin_targets() -> dict[str, Document]:
    """Every built-in config that is a network or block (template libraries left out), by name."""
    from paramscope.spec.library import builtin_files

    docs = {name: parse_file(str(path), resolve_import) for name, path in builtin_files().items()}
    return {name: doc for name, doc in docs.items() if not doc.is_library}


def resolve_spec(target: str | Target | Document, overrides: dict[str, Any] | None = None,
                 input_shape: Shape | None = None, batch: int = 1) -> Resolved:
    """Load (unless given a Document) and resolve a spec (no torch import)."""
    doc = target if isinstance(target, Document) else load_document(target)
    return resolve(doc, overrides, input_shape, batch)


def build(target: str, device: Any = None, **overrides: Any):
    """Build ``target`` (built-in name, YAML path or ``module:callable``) as an nn.Module.

    ``overrides`` set spec parameters (like ``--set``) or are passed to a factory as
    keyword arguments.  ``device="meta"`` builds without allocating memory.
    """
    from paramscope.building.builder import call_factory, module_from_resolved

    t = parse_target(target)
    if t.kind == "factory":
        return call_factory(load_factory(t), overrides, t.text, device)
    return module_from_resolved(resolve_spec(t, overrides), device)
