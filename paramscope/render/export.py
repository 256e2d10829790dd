"""Tables as data, rendered four ways (terminal, Markdown, CSV, JSON), and atomic file output.

A :class:`Grid` is a titled table of strings with typed columns.  Renderers turn
it into a rich Table that fits the terminal (optional columns are dropped first
on narrow terminals, numbers are never wrapped), a GitHub pipe table (numbers
right-aligned) or CSV.  Every format escapes control characters in user text
(:mod:`paramscope.textsafe`).  :func:`deliver` writes ``--output``: ``-`` is stdout,
a regular file is replaced atomically (:func:`write_atomic`), a FIFO or device is
written through, and anything else (a directory, the input spec) is refused.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from paramscope.errors import ParamscopeError

FORMATS = ("table", "json", "csv", "markdown")


@dataclass
class Col:
    header: str
    numeric: bool = False  # right-aligned, never wrapped
    optional: int = 0  # > 0: may be dropped on a narrow terminal, highest first (all of a level at once)
    group: str = ""  # a heading shared by adjacent columns (the target of a side-by-side table)
    wrap: bool = True  # False: a text column kept on one line (a tree's labels), like numbers
    note: bool = False  # on a terminal a full-width line under its row (when not empty), not a column

    @property
    def full(self) -> str:
        """The header with its group, on one line: ``'resnet50 params'``."""
        return " ".join(f"{self.group} {self.header}".split())


@dataclass
class Grid:
    columns: list[Col]
    rows: list[list[str]] = field(default_factory=list)
    title: str | None = None
    footer: list[list[str]] = field(default_factory=list)  # totals, after a rule
    #: cell widths per column, measured once (see :func:`_cell_widths`); not content
    measured: dict = field(default_factory=dict, repr=False, compare=False)

    def add(self, *cells: Any) -> None:
        self.rows.append([_cell(c) for c in cells])

    def add_footer(self, *cells: Any) -> None:
        self.footer.append([_cell(c) for c in cells])

    @property
    def headers(self) -> list[str]:
        return [c.full for c in self.columns]

    @property
    def table_columns(self) -> list[int]:
        """The columns a terminal table lays out (every one but the notes)."""
        return [i for i, c in enumerate(self.columns) if not c.note]

    def tops(self, keep: Sequence[int]) -> list[str] | None:
        """The group names above the columns ``keep`` (on the first of each group); None
        when no column has a group."""
        if not any(self.columns[i].group for i in keep):
            return None
        out, previous = [], None
        for i in keep:
            group = self.columns[i].group
            out.append(group if group and group != previous else "")
            previous = group
        return out

    def table_headers(self, keep: Sequence[int], widths: Sequence[int]) -> list[str]:
        """Headers for a terminal table of columns ``keep`` of ``widths``: each wrapped to
        its column between words (and after the ``_`` of an identifier), a group's name
        above the first of its columns."""
        tops = self.tops(keep)
        out = []
        for k, (i, width) in enumerate(zip(keep, widths)):
            header = wrap_header(self.columns[i].header, width)
            out.append(f"{tops[k]}\n{header}" if tops is not None else header)
        return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


# --------------------------------------------------------------------------- terminal

_GAP = 3  # " | " between columns (ASCII2) or the SIMPLE_HEAD equivalent


#: one line of characters that each take one terminal cell: printable ASCII, Latin-1 (× µ),
#: dashes and … , ≤ ≥ and box drawing (the summary tree's ├─ │ └─)
_ONE_CELL_EACH = re.compile("[\x20-\x7e\u00a0-\u00ff\u2010-\u2027\u2264\u2265\u2500-\u257f]*")


def _width(text: str) -> int:
    if _ONE_CELL_EACH.fullmatch(text):  # the common case, without rich's per-character table
        return len(text)
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.split("\n")), default=0)


def _pieces(header: str) -> list[tuple[str, bool]]:
    """A header's unbreakable pieces, each with whether it starts a new word: words split
    at spaces, names after each ``_`` or ``-`` (``width_per_group`` -> ``width_``, ``per_``, ``group``)."""
    return [(piece, n == 0) for word in header.split()
            for n, piece in enumerate(re.findall(r"[^_-]*[_-]+|[^_-]+", word))]


def wrap_header(header: str, width: int) -> str:
    """``header`` on lines of at most ``width`` cells, broken only between its pieces."""
    lines: list[str] = []
    for piece, new_word in _pieces(header):
        joined = (lines[-1] + (" " if new_word else "") + piece) if lines else piece
        if lines and _width(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(piece)
    return "\n".join(lines)


def _column_range(grid: Grid, i: int, top: str) -> tuple[int, int]:
    """(narrowest, natural) width of column ``i``: a number is never broken, text only
    between words; a header only between its pieces (a number column's long header is
    wrapped over its numbers when the table must narrow)."""
    col = grid.columns[i]
    widest, words = _cell_widths(grid, i)
    header_min = max((_width(p) for p, _ in _pieces(col.header)), default=0)
    top_min = max((_width(w) for w in top.split()), default=0)
    if col.numeric or not col.wrap:  # numbers and one-line text (a tree's labels) are never broken
        natural = max(widest, top_min, _width(col.header))
        return max(widest, header_min, top_min), natural
    natural = max(widest, _width(col.header), _width(top))
    return max(words, header_min, top_min), natural


def _cell_widths(grid: Grid, i: int) -> tuple[int, int]:
    """(widest cell, widest word) of column ``i``'s cells, measured once per grid content
    (a table is fitted several times: once per optional level, then laid out); words only
    where the column may wrap."""
    key = (i, len(grid.rows), len(grid.footer))
    if key not in grid.measured:
        col = grid.columns[i]
        cells = [r[i] for r in (*grid.rows, *grid.footer)]
        widest = max(map(_width, cells), default=0)
        words = widest if col.numeric or not col.wrap else \
            max((_width(w) for c in cells for w in c.split()), default=0)
        grid.measured[key] = (widest, words)
    return grid.measured[key]


def _ranges(grid: Grid, keep: Sequence[int]) -> list[tuple[int, int]]:
    tops = grid.tops(keep) or [""] * len(keep)
    return [_column_range(grid, i, top) for i, top in zip(keep, tops)]


def fitting_columns(grid: Grid, width: int | None) -> list[int]:
    """Indices of the columns to show: drop optional columns, highest level first, until the
    table fits without breaking a word (text columns may still wrap between words)."""
    keep = grid.table_columns
    if width is None:
        return keep
    levels = sorted({grid.columns[i].optional for i in keep if grid.columns[i].optional}, reverse=True)
    for level in levels:
        if min_width(grid, keep) <= width:
            break
        keep = [i for i in keep if grid.columns[i].optional != level]
    return keep


def min_width(grid: Grid, keep: Sequence[int]) -> int:
    """Narrowest rendering without breaking a word or a number: numbers whole, text by its longest word."""
    return sum(low for low, _ in _ranges(grid, keep)) + _GAP * max(len(keep) - 1, 0)


def column_widths(grid: Grid, keep: Sequence[int], width: int | None) -> list[int]:
    """Each column's width: its natural width, narrowed until the table fits ``width``: first
    the long headers of number columns (wrapped over their numbers), then the widest text
    columns (never below their longest word)."""
    ranges = _ranges(grid, keep)
    widths = [natural for _, natural in ranges]
    excess = sum(widths) + _GAP * max(len(keep) - 1, 0) - (width if width is not None else 10**9)
    numeric = [grid.columns[i].numeric for i in keep]
    while excess > 0:
        narrower = [k for k, (low, _) in enumerate(ranges) if widths[k] > low]
        if not narrower:
            break
        first = [k for k in narrower if numeric[k]] or narrower
        widths[max(first, key=lambda k: widths[k])] -= 1
        excess -= 1
    return widths


def dropped_line(grid: Grid, keep: Sequence[int], width: int) -> str | None:
    """``columns dropped to fit 80 columns: kind, output`` when optional columns were left out."""
    dropped = [c.full for i, c in enumerate(grid.columns) if i not in keep and not c.note]
    return f"columns dropped to fit {width} columns: {', '.join(dropped)}" if dropped else None


#: above this many rows a table is laid out here as aligned text lines (linear time),
#: not cell by cell by rich (about a millisecond per row)
FAST_ROWS = 2_000


class TextGrid:
    """``grid``'s columns ``keep`` as aligned text in the plain table style (``a | b``,
    ``--+--`` rules), built in one linear pass; long lines are not wrapped; a note
    column's text is a line under its row."""

    def __init__(self, grid: Grid, keep: Sequence[int]) -> None:
        self.grid, self.keep = grid, list(keep)

    def lines(self) -> list[str]:
        cell_len = _width
        cols = [self.grid.columns[i] for i in self.keep]
        notes = [i for i, c in enumerate(self.grid.columns) if c.note]
        pick = lambda row: [" ".join(row[i].split("\n")) for i in self.keep]  # noqa: E731
        body, footer = [pick(r) for r in self.grid.rows], [pick(r) for r in self.grid.footer]
        headers = [c.full for c in cols]
        widths = [max(cell_len(h), *(cell_len(r[k]) for r in (*body, *footer))) for k, h in enumerate(headers)]

        def line(cells: list[str], justify: list[bool]) -> str:
            out = []
            for cell, w, right in zip(cells, widths, justify):
                pad = " " * (w - cell_len(cell))
                out.append(pad + cell if right else cell + pad)
            return " | ".join(out).rstrip()

        rule = "+".join("-" * w for w in _padded(widths))
        numeric = [c.numeric for c in cols]
        out = [line(headers, numeric), rule]
        for row, cells in zip(self.grid.rows, body):
            out.append(line(cells, numeric))
            out += [_note_line(self.grid.columns[i].header, row[i], None) for i in notes if row[i]]
        if footer:
            out += [rule, *(line(r, numeric) for r in footer)]
        return out

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        for text in self.lines():
            yield Segment(text)
            yield Segment.line()


def rich_table(grid: Grid, width: int | None = None, plain: bool | None = None):
    """``grid`` for a terminal of ``width`` cells, never cutting a number or a word:
    optional columns are dropped (highest level first, named on a line under the table),
    text columns wrap between words, a note column is a full-width line under its row,
    and when even the remaining columns cannot fit, one record per row.  A grid of more
    than :data:`FAST_ROWS` rows is a :class:`TextGrid` instead."""
    from rich.console import Group
    from rich.text import Text

    from paramscope.render.console import plain_output

    plain = plain_output() if plain is None else plain
    keep = fitting_columns(grid, width)
    dropped = dropped_line(grid, keep, width) if width is not None else None
    if len(grid.rows) + len(grid.footer) > FAST_ROWS:
        return _titled(grid.title, TextGrid(grid, keep), plain, dropped)
    if width is not None and min_width(grid, keep) > width:
        return _titled(grid.title, records_table(grid, plain, width), plain)
    widths = column_widths(grid, keep, width)
    notes = [i for i, c in enumerate(grid.columns) if c.note]
    parts: list[Any] = []
    table = _table(grid, keep, widths, plain, header=True)
    for n, row in enumerate(grid.rows):
        last = n == len(grid.rows) - 1
        table.add_row(*(row[i] for i in keep), end_section=bool(grid.footer) and last)
        lines = [_note_line(grid.columns[i].header, row[i], width) for i in notes if row[i]]
        if lines:  # the lines under the row, then a new table of the same column widths
            parts += [table, *(Text(line) for line in lines)]
            table = _table(grid, keep, widths, plain, header=False)
            if grid.footer and last:
                parts.append(_rule(widths, plain))
    for row in grid.footer:
        table.add_row(*(row[i] for i in keep))
    if table.row_count or not parts:
        parts.append(table)
    return _titled(grid.title, parts[0] if len(parts) == 1 else Group(*parts), plain, dropped)


def _table(grid: Grid, keep: Sequence[int], widths: Sequence[int], plain: bool, header: bool):
    """An empty rich Table of the columns ``keep`` at fixed ``widths`` (so the tables a
    grid is split into by its note lines line up)."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.ASCII2 if plain else box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  header_style=None if plain else "bold", show_header=header)
    for i, header_text, w in zip(keep, grid.table_headers(keep, widths), widths):
        col = grid.columns[i]
        table.add_column(header_text, justify="right" if col.numeric else "left", width=w,
                         no_wrap=col.numeric or not col.wrap, overflow="fold")
    return table


def _note_line(header: str, text: str, width: int | None) -> str:
    """A note column's cell as the line under its row: ``  error: …``, wrapped between words
    with a hanging indent (a word longer than the line is split, never cut)."""
    import textwrap

    line = f"{header}: {text}"
    if width is None:
        return "  " + line
    return textwrap.fill(line, width=max(width, 8), initial_indent="  ", subsequent_indent="    ",
                         break_on_hyphens=False)


def _rule(widths: Sequence[int], plain: bool):
    """The rule a table draws above its footer, for a footer that starts a new table."""
    from rich import box
    from rich.text import Text

    return Text((box.ASCII2 if plain else box.SIMPLE_HEAD).get_row(_padded(widths), level="row", edge=False))


def _padded(widths: Sequence[int]) -> list[int]:
    """Each column's width with the space beside its ``|`` (none at the table's edges)."""
    n = len(widths)
    return [w + (n > 1) * ((k > 0) + (k < n - 1)) for k, w in enumerate(widths)]


def _titled(title: str | None, table, plain: bool, footer: str | None = None):
    """The title on its own line above the table (a rich table title would wrap to the
    table's width) and ``footer`` on a line under it."""
    if not title and not footer:
        return table
    from rich.console import Group
    from rich.text import Text

    return Group(*([Text(title, style=None if plain else "bold")] if title else []), table,
                 *([Text(footer)] if footer else []))


def records_table(grid: Grid, plain: bool, width: int | None = None):
    """``grid`` one row at a time, ``header  value`` per line: the layout for narrow terminals
    (values wrap between words; ``header:`` above its value when even that is too narrow)."""
    from rich import box
    from rich.table import Table

    rows = [*grid.rows, *grid.footer]
    records = [[(c.full, v) for c, v in zip(grid.columns, row) if v] for row in rows]
    label_w = max((_width(h) for cells in records for h, _ in cells), default=0)
    word_w = max((_width(w) for cells in records for _, v in cells for w in v.split()), default=0)
    if width is not None and label_w + _GAP + word_w > width:
        return _stacked(records, width)
    table = Table(box=box.ASCII2 if plain else box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  show_header=False)
    table.add_column(no_wrap=True, style=None if plain else "bold")
    table.add_column(overflow="fold")
    for n, cells in enumerate(records):
        for j, (header, value) in enumerate(cells):
            table.add_row(header, value, end_section=j == len(cells) - 1 and n < len(rows) - 1)
    return table


def _stacked(records: list[list[tuple[str, str]]], width: int):
    """Records as ``header:`` lines with the value indented under them, wrapped between words."""
    import textwrap

    from rich.text import Text

    lines: list[str] = []
    for n, cells in enumerate(records):
        if n:
            lines.append("-" * min(width, 20))
        for header, value in cells:
            lines.append(f"{header}:")
            lines += textwrap.wrap(value, width=max(width, 3), initial_indent="  ", subsequent_indent="  ",
                                   break_on_hyphens=False)
    return Text("\n".join(lines))


# --------------------------------------------------------------------------- markdown / csv


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def markdown_table(grid: Grid, heading_level: int = 3) -> str:
    """A GitHub pipe table (numbers right-aligned), preceded by its title as a heading."""
    lines = []
    if grid.title:
        lines += [f"{'#' * heading_level} {grid.title}", ""]
    lines.append("| " + " | ".join(_md_escape(h) or " " for h in grid.headers) + " |")
    lines.append("|" + "|".join("---:" if c.numeric else ":---" for c in grid.columns) + "|")
    for row in (*grid.rows, *grid.footer):
        lines.append("| " + " | ".join(_md_escape(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def markdown_document(parts: Iterable[Grid | str], title: str | None = None) -> str:
    """Grids as pipe tables and strings as paragraphs, separated by blank lines."""
    out = [f"## {title}\n"] if title else []
    for part in parts:
        out.append(markdown_table(part) if isinstance(part, Grid) else part.rstrip("\n") + "\n")
    return "\n".join(out)


def csv_shape(shape) -> str:
    """A shape as CSV spells it: ``1x3x224x224`` (tables write ``1×3×224×224``)."""
    from paramscope.graph import shape_text

    return shape_text(shape, sep="x")


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


#: a top-level list longer than this is written one item per line (json's C encoder),
#: since ``indent`` makes json fall back to its pure-Python encoder
JSON_LONG_LIST = 1_000


def json_text(data: Any) -> str:
    """``data`` as indented JSON; a long top-level list (a report's layers) has one
    compact item per line, so 100,000 layers take about a second, not minutes."""
    if not isinstance(data, dict) or not any(isinstance(v, list) and len(v) > JSON_LONG_LIST
                                             for v in data.values()):
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and len(value) > JSON_LONG_LIST:
            items = ",\n    ".join(json.dumps(v, ensure_ascii=False) for v in value)
            text = f"[\n    {items}\n  ]"
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key, ensure_ascii=False)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


# --------------------------------------------------------------------------- output


def render_text(renderables: Iterable[Any], width: int | None = None) -> str:
    """Renderables as plain text (no colour, ASCII boxes), e.g. for ``--output report.txt``."""
    from paramscope.render.console import make_console

    buf = io.StringIO()
    console = make_console(width=width, file=buf, plain=True)
    for part in renderables:
        console.print(part, crop=False)
    return buf.getvalue()


def write_atomic(path: str | os.PathLike, text: str | bytes, option: str = "--output") -> None:
    """Write ``text`` to ``path`` atomically: temp file beside it, fsync, ``os.replace``.

    On any failure (SIGTERM and Ctrl-C included) the previous file (if any) is left
    untouched, the temp file is removed, and a ParamscopeError names the path.  A
    symlink is followed: the file it points to is replaced, the link stays.
    """
    import stat

    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise ParamscopeError(f"{option} {_shown(path)}: is a directory")
    if os.path.exists(target) and not stat.S_ISREG(os.stat(target).st_mode):
        raise ParamscopeError(f"{option} {_shown(path)}: not a regular file; refusing to replace it")
    try:  # a short temp name, so a target name of 255 bytes still works
        fd, tmp = tempfile.mkstemp(prefix=".paramscope-", suffix=".tmp", dir=directory)
    except OSError as err:
        raise ParamscopeError(f"{option} {_shown(path)}: cannot write: {err.strerror or err}") from None
    try:
        binary = isinstance(text, bytes)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise ParamscopeError(f"{option} {_shown(path)}: cannot write: {err.strerror or err}") from None
        raise
    _fsync_dir(directory)


def _shown(path) -> str:
    from paramscope.textsafe import printable

    return printable(os.fspath(path))


def _mode_for(target: str) -> int:
    """Keep an existing file's permissions; otherwise 0o666 minus the umask (like open())."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


OUTPUT_ENV = "PARAMSCOPE_MAX_OUTPUT"
MAX_OUTPUT_BYTES = 256_000_000
#: paths ``--output`` must never replace (the input specs of the running command)
PROTECTED: set[str] = set()


def max_output() -> int:
    raw = os.environ.get(OUTPUT_ENV, "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 19 else MAX_OUTPUT_BYTES


def check_output(output: str | None, option: str = "--output") -> None:
    """Refuse an ``--output`` that cannot be written safely, before any work is done:
    a directory, a path whose directory does not exist, or one of the input specs."""
    if not output or output == "-":
        return
    if "\x00" in output:
        raise ParamscopeError(f"{option}: the path contains a NUL byte")
    from paramscope.spec.yamlsafe import FILES_READ

    real = os.path.realpath(output)
    if real in PROTECTED or real in FILES_READ:
        raise ParamscopeError(f"{option} {_shown(output)} is an input (spec or factory file) of this command; "
                              "refusing to overwrite it")
    if os.path.isdir(real):
        raise ParamscopeError(f"{option} {_shown(output)}: is a directory")
    if not os.path.isdir(os.path.dirname(real) or "."):
        raise ParamscopeError(f"{option} {_shown(output)}: cannot write: no such directory")


def protect(path: str) -> None:
    """Record an input spec that ``--output`` must not overwrite."""
    PROTECTED.add(os.path.realpath(path))


def deliver(text: str, output: str | None, json_format: bool = False) -> None:
    """Print ``text`` on stdout (``output`` None or ``-``), write it to a FIFO or device
    as it is, or atomically replace a regular file; control characters in ``text`` are
    escaped first and its size is bounded (``PARAMSCOPE_MAX_OUTPUT``)."""
    import stat
    import sys

    from paramscope.textsafe import printable, printable_json

    text = printable_json(text) if json_format else printable(text, keep_newlines=True)
    if len(text) > max_output():
        raise ParamscopeError(f"the output would be {len(text):,} characters, more than the limit of "
                              f"{max_output():,} (limit 'output size'; raise it with {OUTPUT_ENV})")
    if not output or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    check_output(output)
    try:
        mode = os.stat(output).st_mode
    except OSError:
        mode = None
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):  # written through, never replaced
        try:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as err:
            raise ParamscopeError(f"--output {_shown(output)}: cannot write: {err.strerror or err}") from None
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise ParamscopeError(f"--output {_shown(output)}: not a regular file, FIFO or character device")
    write_atomic(output, text)


def print_escaped(console, *parts) -> None:
    """Print renderables on ``console`` with user text escaped (:class:`_Escaped`); a closed
    pipe (``| head``) becomes BrokenPipeError (rich would raise SystemExit(1))."""
    try:
        for part in parts:
            console.print(_Escaped(part), crop=False)
    except SystemExit:
        raise BrokenPipeError() from None


class _Escaped:
    """A renderable whose text segments have control characters escaped (colours kept)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __rich_console__(self, console, options):
        from rich.segment import Segment

        from paramscope.textsafe import printable

        for seg in console.render(self.inner, options):
            yield seg if seg.control else Segment(printable(seg.text, keep_newlines=True), seg.style)


def publish(fmt: str, output: str | None, *, table, json_data, csv, markdown) -> None:
    """Print (or write atomically to ``output``) one of the four formats.

    ``table(width, plain)`` returns rich renderables; ``json_data()`` a JSON-able
    value; ``csv()`` and ``markdown()`` strings.
    """
    from paramscope.render.console import env_width, make_console, plain_output

    check_output(output)
    if fmt == "json":
        deliver(json_text(json_data()), output, json_format=True)
    elif fmt == "csv":
        deliver(csv(), output)
    elif fmt == "markdown":
        deliver(markdown(), output)
    elif output and output != "-":
        width = env_width()
        deliver(render_text(table(width=width, plain=True), width=width), output)
    else:
        console = make_console()
        print_escaped(console, *table(width=console.width, plain=plain_output()))
