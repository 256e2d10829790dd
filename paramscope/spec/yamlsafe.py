"""Safe YAML loading with line numbers and bounded size.

Only plain data is accepted: mappings, sequences and null/bool/int/float/str
scalars.  Any other tag (``!!python/object``, ``!!binary``, custom ``!tags``) is
an error, never constructed.  Alias expansion is bounded (billion-laughs), and
so are nesting depth and file size.  Mappings and lists come back as
:class:`Map` / :class:`Seq`, which remember the line of each entry.
"""

from __future__ import annotations

import yaml

from paramscope.errors import LimitError, SpecError

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 200_000  # values after alias expansion
MAX_DEPTH = 64

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


class _Converter:
    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self.constructor = yaml.SafeLoader("")  # only used to construct plain scalars

    def convert(self, node: yaml.Node, depth: int = 0):
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > MAX_NODES:
            raise LimitError(f"spec expands to more than {MAX_NODES:,} values "
                             "(aliases expanding to a huge structure?)", file=self.file, line=line)
        if depth > MAX_DEPTH:
            raise LimitError(f"spec nests deeper than {MAX_DEPTH} levels", file=self.file, line=line)
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise SpecError(f"YAML tag {node.tag!r} is not allowed; specs hold plain data only",
                                file=self.file, line=line)
            return self.constructor.construct_object(node, deep=True)
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


def load_text(text: str, file: str = "<string>"):
    """Parse YAML text into plain Map/Seq/scalars, or raise a located SpecError."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise LimitError(f"spec is larger than {MAX_FILE_BYTES:,} bytes", file=file)
    if "\x00" in text:
        raise SpecError("spec is binary (contains NUL bytes), expected YAML text", file=file)
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
        return _Converter(file).convert(node)
    except RecursionError:
        raise LimitError(f"spec nests deeper than {MAX_DEPTH} levels", file=file) from None


def _compose(text: str):
    if _FAST_LOADER is not None and sum(map(text.count, "[{-?:")) <= _FAST_MAX_INDICATORS:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass  # re-parse below for the pure-Python parser's message
    return yaml.compose(text, Loader=yaml.SafeLoader)


def load_file(path: str):
    """Read and parse a YAML file (see :func:`load_text`)."""
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
