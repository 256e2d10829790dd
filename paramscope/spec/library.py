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


IMPORT_PATH_ENV = "PARAMSCOPE_IMPORT_PATH"
_EXTRA_IMPORT_DIRS: list[str] = []


def set_import_dirs(dirs) -> None:
    """Allow ``import:`` from these directories too (``--import-path DIR``; replaces the
    directories a previous command set)."""
    for d in dirs or ():
        if not os.path.isdir(d):
            raise TargetError(f"--import-path {d!r}: not a directory")
    _EXTRA_IMPORT_DIRS[:] = [os.path.realpath(d) for d in dirs or ()]


def import_roots(spec_dir: str) -> list[str]:
    """Directories ``import:`` may read from: the top spec's own directory tree, the
    built-in library, ``--import-path`` directories and ``$PARAMSCOPE_IMPORT_PATH``."""
    env = [d for d in os.environ.get(IMPORT_PATH_ENV, "").split(os.pathsep) if d]
    return [os.path.realpath(d) for d in (spec_dir, str(config_dir()), *env)] + _EXTRA_IMPORT_DIRS


def check_import(ref: str, path: str, spec_dir: str) -> None:
    """Refuse an import outside :func:`import_roots` or not a regular file; the error names
    only the path (never anything read from it)."""
    real = os.path.realpath(path)
    if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in import_roots(spec_dir)):
        raise SpecError(f"import {ref!r}: {path} is outside the spec's directory and the built-in "
                        f"library; allow its directory with --import-path DIR or {IMPORT_PATH_ENV}")
    if not os.path.exists(real):
        raise SpecError(f"import {ref!r}: no such file {path}")
    if not os.path.isfile(real):
        raise SpecError(f"import {ref!r}: {path} is not a regular file")


def resolve_import(ref: str, base_dir: str) -> str:
    """An ``import:`` entry: a path relative to the importing file, or a built-in name."""
    if ref.endswith(SPEC_SUFFIXES) or "/" in ref:
        return os.path.normpath(os.path.join(base_dir, ref))  # checked by check_import
    try:
        return str(builtin_path(ref))
    except TargetError as err:
        raise SpecError(f"import {ref!r}: {err.message}") from None
