"""Safe YAML loading with line numbers and bounded size.

Only plain data is accepted: mappings, sequences and null/bool/int/float/str
scalars.  Any other tag (``!!python/object``, ``!!binary``, custom ``!tags``) is
an error, never constructed.  Alias expansion is bounded in values and in
characters (billion-laughs, and one long string aliased many times), and so are
nesting depth, file size and the digits of a number literal (Python refuses
to convert more than 4,300).  Plain scalars are read by YAML 1.2's core schema
(``010`` is 10 — never octal 8 —, ``1e-3`` a float, ``0b1``, ``1:00`` and ``yes`` text),
in spec files and ``--set`` values alike; ``schema="1.1"`` keeps PyYAML's own reading.  Mappings and lists come back as
:class:`Map` / :class:`Seq`, which remember the line of each entry.
"""

from __future__ import annotations

import re

import yaml

from paramscope.errors import LimitError, SpecError

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 200_000  # values after alias expansion
MAX_DEPTH = 64
MAX_CHARS = 4_000_000  # characters of all scalars after alias expansion
MAX_NUMBER_CHARS = 64  # characters of one int/float literal

_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
#: libyaml's parser when PyYAML has it (several times faster, same nodes); the pure-Python
#: parser re-reads a file libyaml rejects, for its more precise error messages.  libyaml
#: recurses on the C stack, so it only gets texts that cannot nest deeply: every nesting
#: level needs one of the indicator characters counted below.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
_FAST_MAX_INDICATORS = 4000


class Map(dict):
    """A dict that knows its own line and the line of each key (1-based)."""

    line: int | None = None
    key_lines: dict

    def line_of(self, key) -> int | None:
        return self.key_lines.get(key, self.line) if hasattr(self, "key_lines") else self.line


class Seq(list):
    """A list that knows its own line and the line of each item (1-based)."""

    line: int | None = None
    item_lines: list

    def line_of(self, index: int) -> int | None:
        lines = getattr(self, "item_lines", [])
        return lines[index] if 0 <= index < len(lines) else self.line


def line_of(container, key) -> int | None:
    """Line of ``container[key]`` when known."""
    if isinstance(container, (Map, Seq)):
        return container.line_of(key)
    return None


_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
#: YAML 1.2 core schema for plain (unquoted) scalars; anything else is a string
_CORE_NULL = re.compile(r"~|null|Null|NULL|")
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_CORE_SPECIAL = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}


def _core_scalar(text: str):
    """``(True, value)`` for a plain scalar the 1.2 core schema reads as null/bool/int/float,
    ``(False, None)`` for a string."""
    if _CORE_NULL.fullmatch(text):
        return True, None
    if _CORE_BOOL.fullmatch(text):
        return True, text.lower() == "true"
    if _CORE_INT.fullmatch(text):
        if text.startswith(("0x", "0o")):
            return True, int(text[2:], 16 if text[1] == "x" else 8)
        return True, int(text)  # 010 is ten
    if _CORE_FLOAT.fullmatch(text):
        return True, float(text)
    if text.lower() in _CORE_SPECIAL:
        return True, _CORE_SPECIAL[text.lower()]
    return False, None


class _Converter:
    def __init__(self, file: str, schema: str = "1.2") -> None:
        self.file = file
        self.schema = schema
        self.count = 0
        self.chars = 0
        self.constructor = yaml.SafeLoader("")  # only used to construct plain scalars

    def scalar(self, node: yaml.ScalarNode, line: int):
        self.chars += len(node.value)
        if self.chars > MAX_CHARS:
            raise LimitError(f"spec expands to more than {MAX_CHARS:,} characters "
                             "(a long string aliased many times?) (limit 'alias expansion')",
                             file=self.file, line=line)
        if node.tag not in _SCALAR_TAGS:
            raise SpecError(f"YAML tag {node.tag!r} is not allowed; specs hold plain data only",
                            file=self.file, line=line)
        if node.tag in (_INT_TAG, _FLOAT_TAG) and len(node.value) > MAX_NUMBER_CHARS:
            raise LimitError(f"a number literal of {len(node.value):,} characters exceeds the limit "
                             f"of {MAX_NUMBER_CHARS} (limit 'number literal')", file=self.file, line=line)
        if self.schema == "1.2" and not node.style:  # plain: None (Python parser) or "" (libyaml)
            typed, value = _core_scalar(node.value)
            if typed and len(node.value) > MAX_NUMBER_CHARS:
                raise LimitError(f"a number literal of {len(node.value):,} characters exceeds the "
                                 f"limit of {MAX_NUMBER_CHARS} (limit 'number literal')",
                                 file=self.file, line=line)
            return value if typed else _text(node.value, self.file, line)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except ValueError as err:
            raise SpecError(f"cannot read {node.value[:40]!r}: {err}", file=self.file, line=line) from None
        return _text(value, self.file, line) if isinstance(value, str) else value

    def convert(self, node: yaml.Node, depth: int = 0):
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > MAX_NODES:
            raise LimitError(f"spec expands to more than {MAX_NODES:,} values "
                             "(aliases expanding to a huge structure?)", file=self.file, line=line)
        if depth > MAX_DEPTH:
            raise LimitError(f"spec nests deeper than {MAX_DEPTH} levels", file=self.file, line=line)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, line)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise SpecError(f"YAML tag {node.tag!r} is not allowed; specs hold plain data only",
                                file=self.file, line=line)
            out = Seq()
            out.line, out.item_lines = line, []
            for item in node.value:
                out.item_lines.append(item.start_mark.line + 1)
                out.append(self.convert(item, depth + 1))
            return out
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                raise SpecError(f"YAML tag {node.tag!r} is not allowed; specs hold plain data only",
                                file=self.file, line=line)
            out = Map()
            out.line, out.key_lines = line, {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise SpecError("YAML merge keys (<<) are not supported; use templates",
                                    file=self.file, line=key_node.start_mark.line + 1)
                key = self.convert(key_node, depth + 1)
                if not isinstance(key, (str, int, bool)) or isinstance(key, bool):
                    raise SpecError(f"mapping keys must be strings, got {key!r}",
                                    file=self.file, line=key_node.start_mark.line + 1)
                if key in out:
                    raise SpecError(f"duplicate key {key!r}", file=self.file,
                                    line=key_node.start_mark.line + 1)
                out.key_lines[key] = key_node.start_mark.line + 1
                out[key] = self.convert(value_node, depth + 1)
            return out
        raise SpecError(f"unexpected YAML node {type(node).__name__}", file=self.file, line=line)


def _text(value: str, file: str, line: int) -> str:
    """A string scalar; lone surrogates (from a ``"\\ud800"`` escape) cannot be printed."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = value[err.start]
        raise SpecError(f"text contains a lone surrogate (\\u{ord(bad):04x}), which is not a "
                        "character", file=file, line=line) from None
    return value


def load_text(text: str, file: str = "<string>", schema: str = "1.2"):
    """Parse YAML text into plain Map/Seq/scalars, or raise a located SpecError.

    Plain scalars are read by the YAML 1.2 core schema (``schema="1.1"``: PyYAML's)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise LimitError(f"spec is larger than {MAX_FILE_BYTES:,} bytes", file=file)
    if "\x00" in text:
        raise SpecError("spec is binary (contains NUL bytes), expected YAML text", file=file)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # undecodable command-line bytes arrive as lone surrogates
        raise SpecError(f"text contains a lone surrogate (\\u{ord(text[err.start]):04x}), which is not "
                        "a character", file=file) from None
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        problem = err.problem or err.context or "malformed YAML"
        raise SpecError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as err:
        raise SpecError(f"invalid YAML: {' '.join(str(err).split())}", file=file) from None
    except RecursionError:
        raise LimitError(f"spec nests deeper than {MAX_DEPTH} levels", file=file) from None
    if node is None:
        raise SpecError("spec is empty, expected a mapping with name, input and layers", file=file)
    try:
        return _Converter(file, schema).convert(node)
    except RecursionError:
        raise LimitError(f"spec nests deeper than {MAX_DEPTH} levels", file=file) from None


def _compose(text: str):
    if _FAST_LOADER is not None and sum(map(text.count, "[{-?:")) <= _FAST_MAX_INDICATORS:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass  # re-parse below for the pure-Python parser's message
    return yaml.compose(text, Loader=yaml.SafeLoader)


#: real paths of every spec file read in this process (``--output`` never overwrites them)
FILES_READ: set[str] = set()


def load_file(path: str):
    """Read and parse a YAML file (see :func:`load_text`)."""
    import os

    FILES_READ.add(os.path.realpath(path))
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise SpecError(f"cannot read spec: {err.strerror or err}", file=str(path)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise LimitError(f"spec is larger than {MAX_FILE_BYTES:,} bytes", file=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("spec is not UTF-8 text (binary file?)", file=str(path)) from None
    return load_text(text, str(path))
