"""Built-in configs (shipped as package data) and spec lookup by name or path."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from paramscope.errors import SpecError, TargetError, closest

SPEC_SUFFIXES = (".yaml", ".yml")


def config_dir() -> Path:
    """``paramscope/configs`` in an installed wheel, the repository's ``configs/`` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "configs", here.parent / "configs"):
        if candidate.is_dir():
            return candidate
    raise TargetError(f"built-in configs not found next to {here}")


@lru_cache(maxsize=1)
def builtin_files() -> dict[str, Path]:
    """Every built-in spec file by name (file stem), libraries included."""
    return {p.stem: p for p in sorted(config_dir().glob("*.yaml"))}


def builtin_path(name: str) -> Path:
    files = builtin_files()
    if name not in files:
        raise TargetError(f"unknown target {name!r}{closest(name, files)}; "
                          "run 'paramscope list' for the built-in configs, or give a YAML path "
                          "or a module:callable factory")
    return files[name]


def is_spec_path(target: str) -> bool:
    return target.endswith(SPEC_SUFFIXES) or os.sep in target or target.startswith(".")


def resolve_import(ref: str, base_dir: str) -> str:
    """An ``import:`` entry: a path relative to the importing file, or a built-in name."""
    if ref.endswith(SPEC_SUFFIXES) or "/" in ref:
        path = os.path.normpath(os.path.join(base_dir, ref))
        if not os.path.isfile(path):
            raise SpecError(f"import {ref!r}: no such file {path}")
        return path
    try:
        return str(builtin_path(ref))
    except TargetError as err:
        raise SpecError(f"import {ref!r}: {err.message}") from None
