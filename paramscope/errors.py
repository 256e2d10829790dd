"""Errors users cause.  The CLI prints ``str(err)`` on one line and exits 2."""

from __future__ import annotations


class ParamscopeError(Exception):
    """Bad input: a one-line message naming where (file, line, layer path) and what was expected."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 path: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        super().__init__(message)

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        if self.path:
            where = f"{where}: {self.path}" if where else self.path
        text = f"{where}: {self.message}" if where else self.message
        return " ".join(text.split())  # always one line

    def located(self, *, file: str | None = None, line: int | None = None,
                path: str | None = None) -> "ParamscopeError":
        """Fill in location fields that are still unknown (innermost wins)."""
        self.file = self.file or file
        self.line = self.line or line
        self.path = self.path or path
        return self


class SpecError(ParamscopeError):
    """A YAML spec is malformed or inconsistent."""


class TargetError(ParamscopeError):
    """A target (built-in name, YAML path, module:callable factory) cannot be resolved."""


class LimitError(ParamscopeError):
    """Input exceeds a documented limit (layers, repeat count, nesting, file size)."""


def closest(name: str, choices, n: int = 3) -> str:
    """' (did you mean a, b?)' for the closest choices, or ''."""
    import difflib

    hits = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" (did you mean {', '.join(hits)}?)" if hits else ""


def clip(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut at a word boundary near ``limit`` characters (with "…")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[:cut if cut > limit // 2 else limit].rstrip(" ,;:") + " …"
