"""The README's terminal examples, run for real and compared with what the README shows.

An example is a fenced block whose first line is ``$ paramscope ...``; the lines after it are
the output, where a line ``...`` stands for any number of lines left out.  The README states
the terminal they were taken at (``NO_COLOR=1 COLUMNS=100``, output piped).  A block preceded
by ``<!-- readme: measured -->`` shows measured times: there numbers are compared as ``#``.

``python tests/readme_examples.py`` runs every example and prints the real output of each one
that differs, to paste into the README.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
ENV = {"NO_COLOR": "1", "COLUMNS": "100", "TERM": "dumb"}
MEASURED = "<!-- readme: measured -->"
_NUMBER = re.compile(r"\d[\d,.]*")


@dataclass
class Example:
    line: int  # 1-based line of the ``$ paramscope`` line in the README
    argv: list[str]
    expected: list[str]
    measured: bool

    @property
    def command(self) -> str:
        return shlex.join(["paramscope", *self.argv])


def examples(text: str | None = None) -> list[Example]:
    """Every ``$ paramscope`` block of the README, in order."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    found, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```") and i + 1 < len(lines) and lines[i + 1].startswith("$ paramscope "):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            argv = shlex.split(lines[i + 1][len("$ paramscope "):])
            found.append(Example(i + 2, argv, lines[i + 2:end], before.strip() == MEASURED))
            i = end
        i += 1
    return found


def run(example: Example) -> tuple[int, list[str]]:
    """Exit code and output lines (stdout, trailing spaces stripped) of one example."""
    env = {**os.environ, **ENV}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "paramscope", *example.argv], capture_output=True,
                          text=True, env=env, timeout=600)
    return proc.returncode, [line.rstrip() for line in proc.stdout.splitlines()]


def _same(expected: str, actual: str, measured: bool) -> bool:
    if measured:
        expected, actual = _NUMBER.sub("#", expected), _NUMBER.sub("#", actual)
    return expected.rstrip() == actual.rstrip()


def matches(expected: list[str], actual: list[str], measured: bool = False) -> bool:
    """``actual`` read as ``expected`` where each ``...`` line skips any number of lines."""
    memo: dict[tuple[int, int], bool] = {}

    def at(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(expected):
                ok = j == len(actual)
            elif expected[i].strip() == "...":
                ok = any(at(i + 1, k) for k in range(j, len(actual) + 1))
            else:
                ok = j < len(actual) and _same(expected[i], actual[j], measured) and at(i + 1, j + 1)
            memo[(i, j)] = ok
        return memo[(i, j)]

    return at(0, 0)


def main() -> int:
    bad = 0
    for example in examples():
        code, actual = run(example)
        if code == 0 and matches(example.expected, actual, example.measured):
            continue
        bad += 1
        print(f"--- README.md:{example.line}: $ {example.command} (exit {code})")
        print("\n".join(actual))
    print(f"{bad} example(s) differ" if bad else "every README example matches")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
