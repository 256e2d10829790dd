"""Make user-provided text safe to print: control characters become visible escapes.

Names, descriptions, labels and messages can come from a spec, a ``--set`` value,
a factory's module names or an exception.  Before any of it reaches a terminal or
a file it goes through :func:`printable`: C0/C1 control characters (ESC, CSI, BEL,
backspace, carriage return ...), DEL, bidirectional overrides and lone surrogates
are written as ``\\x1b`` / ``\\u202e`` / ``\\udcff``, so text can neither drive the
terminal nor break an encoder.  Newlines are kept only where asked.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_KEEP_LINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control / bidi character and lone surrogate escaped."""
    pattern = _UNSAFE_KEEP_LINES if keep_newlines else _UNSAFE
    return pattern.sub(_escape, text)


def printable_json(text: str) -> str:
    """JSON text with C1 controls, bidi overrides and lone surrogates as ``\\uXXXX`` escapes
    (``json.dumps(ensure_ascii=False)`` leaves them raw); the JSON value is unchanged."""
    return _UNSAFE_KEEP_LINES.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
