"""Helpers for the rendering tests: run the CLI in-process on a fixed, colourless console,
compare against golden files, and parse Markdown tables back."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("PARAMSCOPE_UPDATE_GOLDEN"))
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
class _BoxDrawing:
    """Box-drawing characters (─ │ ┃ ┏ …) are never in plain output, except the summary
    tree's own torchinfo glyphs (``├─``, ``│    └─``) in its first column."""

    TREE = re.compile(r"(?:│    )*[├└]─")
    ANY = re.compile(r"[\u2500-\u257f]")

    def search(self, text: str):
        return self.ANY.search(self.TREE.sub("", text))


BOX_DRAWING = _BoxDrawing()


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(*args: str, columns: int = 100, env: dict[str, str] | None = None) -> Run:
    """``paramscope ARGS`` in this process with NO_COLOR and COLUMNS set; stdout/stderr captured."""
    from conftest import run_cli

    saved = {k: os.environ.get(k) for k in ("NO_COLOR", "COLUMNS", *(env or {}))}
    os.environ.update({"NO_COLOR": "1", "COLUMNS": str(columns), **(env or {})})
    try:
        code, out, err = run_cli(*args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Run(code, out, err)


def normalise(text: str) -> str:
    """Trailing spaces (rich pads table cells) are not part of the golden output."""
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n") + "\n"


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/golden/NAME; PARAMSCOPE_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    got = normalise(text)
    if UPDATE or not path.exists():
        if not UPDATE:
            raise AssertionError(f"golden file {path} is missing; run with PARAMSCOPE_UPDATE_GOLDEN=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        return
    want = path.read_text(encoding="utf-8")
    assert got == want, (f"output differs from {path} (PARAMSCOPE_UPDATE_GOLDEN=1 rewrites it)\n"
                         f"--- got ---\n{got}")


@dataclass
class MdTable:
    heading: str | None
    header: list[str]
    align: list[str]  # "left" | "right" | "center" | ""
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        i = self.header.index(name)
        return [r[i] for r in self.rows]

    def row(self, first_cell: str) -> dict[str, str]:
        for r in self.rows:
            if r[0] == first_cell:
                return dict(zip(self.header, r))
        raise KeyError(first_cell)


def _cells(line: str) -> list[str]:
    body = line.strip()
    assert body.startswith("|") and body.endswith("|"), line
    cells, cur, i = [], "", 1
    while i < len(body) - 1:
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) - 1:
            cur += body[i + 1]
            i += 2
            continue
        if ch == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    cells.append(cur.strip())
    return cells


def parse_markdown_tables(text: str) -> list[MdTable]:
    """Every GitHub pipe table in ``text``, with the nearest preceding heading."""
    tables, heading = [], None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|") and i + 1 < len(lines) and re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", lines[i + 1].strip()):
            header = _cells(line)
            align = []
            for spec in _cells(lines[i + 1]):
                align.append("center" if spec.startswith(":") and spec.endswith(":") else
                             "right" if spec.endswith(":") else "left" if spec.startswith(":") else "")
            assert len(align) == len(header), (line, lines[i + 1])
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = _cells(lines[i])
                assert len(cells) == len(header), f"ragged markdown row: {lines[i]}"
                rows.append(cells)
                i += 1
            tables.append(MdTable(heading, header, align, rows))
            continue
        i += 1
    return tables


def number(text: str) -> int:
    """``'25,557,032'`` -> 25557032."""
    return int(text.replace(",", ""))


def evaluate(expression: str) -> int:
    """Evaluate a Term expression (``×``, ``/``, ``+``, ``-``, thousands separators) independently."""
    import ast
    import operator

    source = expression.replace(",", "").replace("×", "*")
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv}

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise ValueError(f"unexpected syntax in {expression!r}")

    value = walk(ast.parse(source, mode="eval"))
    assert value == int(value), expression
    return int(value)
