"""The README's terminal examples, run for real and compared with what the README shows.

An example is a fenced block whose first line is ``$ paramscope ...``; the lines after it are
the output, where a line ``...`` stands for any number of lines left out.  The README states
the terminal they were taken at (``NO_COLOR=1 COLUMNS=100``, output piped, run from the
repository root).  A comment line before the block qualifies it: ``<!-- readme: exit 1 -->``
(the command's exit code, 0 otherwise), ``<!-- readme: reflowed -->`` (line breaks and
padding ignored: a wrapped line holding a path breaks where the checkout's path length puts
it) and ``<!-- readme: measured -->`` (measured times: reflowed, every number as ``#``).

``python tests/readme_examples.py`` runs every example and prints the real output of each one
that differs; ``--update`` also writes it into the README for the examples that leave nothing
out (an example with ``...`` lines is edited by hand).
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
_MARKER = re.compile(r"<!-- readme: (measured|reflowed|exit (\d+)) -->")
_NUMBER = re.compile(r"\d[\d,.]*")


@dataclass
class Example:
    line: int  # 1-based line of the ``$ paramscope`` line in the README
    argv: list[str]
    expected: list[str]
    measured: bool = False
    reflowed: bool = False
    exit_code: int = 0

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
            example = Example(i + 2, shlex.split(lines[i + 1][len("$ paramscope "):]), lines[i + 2:end])
            j = i - 1
            while j >= 0 and (not lines[j].strip() or _MARKER.fullmatch(lines[j].strip())):
                marker = _MARKER.fullmatch(lines[j].strip())
                if marker and marker.group(2):
                    example.exit_code = int(marker.group(2))
                elif marker:
                    setattr(example, marker.group(1), True)
                j -= 1
            found.append(example)
            i = end
        i += 1
    return found


def run(example: Example) -> tuple[int, list[str]]:
    """Exit code and output lines (stdout, trailing spaces stripped) of one example."""
    env = {**os.environ, **ENV}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "paramscope", *example.argv], capture_output=True,
                          text=True, env=env, timeout=600)
    root = f"{README.parent}{os.sep}"  # error messages name built-in configs by their full path
    return proc.returncode, [line.rstrip().replace(root, "") for line in proc.stdout.splitlines()]


def _same(expected: str, actual: str) -> bool:
    return expected.rstrip() == actual.rstrip()


def _loose(lines: list[str], measured: bool) -> str:
    """Output compared loosely: rules ``-``, whitespace one space; measured: every number ``#``."""
    text = " ".join(lines)
    if measured:
        text = _NUMBER.sub("#", text)
        text = re.sub(r"# ?(?:ns|µs|ms|s)(?![\w/])", "#time", text)  # a time in whichever unit it took
    return " ".join(re.sub(r"-{2,}", "-", text).split())


def matches(expected: list[str], actual: list[str], measured: bool = False, reflowed: bool = False) -> bool:
    """``actual`` read as ``expected`` where each ``...`` line skips any number of lines."""
    if measured or reflowed:  # each run of lines between ``...`` appears, in order, in the loose text
        text, at = _loose(actual, measured), 0
        parts: list[list[str]] = [[]]
        for line in expected:
            parts.append([]) if line.strip() == "..." else parts[-1].append(line)
        for n, part in enumerate(parts):
            piece = _loose(part, measured)
            found = text.find(piece, at)
            if found < 0 or (n == 0 and piece and found != 0):
                return False
            at = found + len(piece)
        return not parts[-1] or at == len(text)
    memo: dict[tuple[int, int], bool] = {}

    def at(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(expected):
                ok = j == len(actual)
            elif expected[i].strip() == "...":
                ok = any(at(i + 1, k) for k in range(j, len(actual) + 1))
            else:
                ok = j < len(actual) and _same(expected[i], actual[j]) and at(i + 1, j + 1)
            memo[(i, j)] = ok
        return memo[(i, j)]

    return at(0, 0)


def main(argv: list[str]) -> int:
    update = "--update" in argv
    lines = README.read_text(encoding="utf-8").splitlines(keepends=True)
    bad = 0
    for example in reversed(examples()):  # bottom up: rewriting a block keeps earlier line numbers
        code, actual = run(example)
        if code == example.exit_code and matches(example.expected, actual, example.measured, example.reflowed):
            continue
        bad += 1
        print(f"--- README.md:{example.line}: $ {example.command} (exit {code})")
        print("\n".join(actual))
        if update and code == example.exit_code and "..." not in [e.strip() for e in example.expected]:
            start = example.line  # 0-based index of the first output line
            lines[start:start + len(example.expected)] = [f"{a}\n" for a in actual]
            print("(rewritten)")
    if update:
        README.write_text("".join(lines), encoding="utf-8")
    print(f"{bad} example(s) differ" if bad else "every README example matches")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
