"""Export formats and ``--output`` for summary, compare, check and explain; atomic writes;
``summary --depth`` subtotals; plain and narrow terminals."""

from __future__ import annotations

import csv
import io
import json
import os
import re

import pytest

from render_helpers import ANSI, BOX_DRAWING, number, parse_markdown_tables, run

import paramscope
from paramscope.errors import ParamscopeError
from paramscope.render import export
from paramscope.render.export import Col, Grid, markdown_table, rich_table, write_atomic
from paramscope.reconciling.grouping import group_by_depth

RESNET50_DEPTH1 = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                   "avgpool", "flatten", "fc"]


# ---------------------------------------------------------------------- atomic writes


def test_write_atomic_replaces_and_keeps_mode(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    write_atomic(path, "new ✓\n")
    assert path.read_text(encoding="utf-8") == "new ✓\n"
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert os.listdir(tmp_path) == ["out.txt"]


def test_write_atomic_new_file_honours_umask(tmp_path):
    path = tmp_path / "fresh.csv"
    write_atomic(path, "a,b\n")
    umask = os.umask(0)
    os.umask(umask)
    assert (os.stat(path).st_mode & 0o777) == 0o666 & ~umask


@pytest.mark.parametrize("fail_at", ["fsync", "replace", "write"])
def test_failure_mid_write_leaves_old_file(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "report.md"
    path.write_text("old content\n")
    if fail_at == "fsync":
        def boom(fd):
            raise OSError(5, "Input/output error")
        monkeypatch.setattr(export.os, "fsync", boom)
    elif fail_at == "replace":
        def boom(src, dst):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(export.os, "replace", boom)
    else:
        real_fdopen = os.fdopen

        def fdopen(fd, *args, **kwargs):
            handle = real_fdopen(fd, *args, **kwargs)
            real_write = handle.write

            class Wrapper:
                def __getattr__(self, name):
                    return getattr(handle, name)

                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    handle.close()

                def write(self, text):  # half the text reaches the disk, then the disk is full
                    real_write(text[: len(text) // 2])
                    raise OSError(28, "No space left on device")

            return Wrapper()

        monkeypatch.setattr(export.os, "fdopen", fdopen)
    with pytest.raises(ParamscopeError) as info:
        write_atomic(path, "new content that must not appear\n" * 100)
    assert "report.md" in str(info.value)
    assert path.read_text() == "old content\n"
    assert os.listdir(tmp_path) == ["report.md"]  # the temp file is gone


def test_interrupt_mid_write_removes_temp(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    path.write_text("{}")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(export.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, '{"a": 1}')
    assert path.read_text() == "{}" and os.listdir(tmp_path) == ["x.json"]


def test_cli_output_failure_exits_2_and_keeps_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.csv"
    path.write_text("previous\n")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "replace", boom)
    result = run("summary", "resnet-stem", "--measure", "none", "--format", "csv", "--output", str(path))
    assert result.code == 2 and "No space left" in result.err
    assert path.read_text() == "previous\n" and os.listdir(tmp_path) == ["summary.csv"]
    result = run("summary", "resnet-stem", "--measure", "none", "--output", str(tmp_path / "missing" / "x.txt"))
    assert result.code == 2 and "cannot write" in result.err


@pytest.mark.parametrize("command", [("summary", "resnet-stem", "--measure", "none"),
                                     ("compare", "vgg-stem", "resnet-stem"),
                                     ("check", "resnet-stem", "--measure", "none"),
                                     ("explain", "resnet-stem")])
@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_every_command_writes_every_format(tmp_path, command, fmt):
    path = tmp_path / f"out.{fmt}"
    result = run(*command, "--format", fmt, "--output", str(path))
    assert result.code == 0, result.err
    assert result.out == ""
    text = path.read_text(encoding="utf-8")
    assert "9,472" in text or "9472" in text  # resnet-stem: 3×64×7×7 + 64
    assert not ANSI.search(text) and not BOX_DRAWING.search(text)
    if fmt == "json":
        json.loads(text)
    elif fmt == "csv":
        assert list(csv.reader(io.StringIO(text)))
    elif fmt == "markdown":
        assert parse_markdown_tables(text) or "```text" in text
    stdout = run(*command, "--format", fmt)
    assert stdout.code == 0 and stdout.out.rstrip("\n") == text.rstrip("\n")


# ---------------------------------------------------------------------- summary formats


def test_summary_csv_every_row_at_full_depth():
    """--depth beyond the deepest module with --all-rows: one CSV row per layer call (plus the
    module rows above them), each figure in its own row, adding up to torchvision's totals."""
    report = paramscope.analyze("resnet50", measure="none")
    result = run("summary", "resnet50", "--measure", "none", "--format", "csv", "--depth", "9", "--all-rows")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    calls = [r for r in rows if r["functional"] == "True" or r["class"] not in ("Resnet", "Sequential", "Bottleneck")]
    assert len(calls) == len(report.layers)
    assert [r["module"] for r in calls] == [r.node.name for r in report.layers]
    assert sum(int(r["params"]) for r in rows) == 25_557_032  # reference: torchvision resnet50
    assert sum(int(r["macs"]) for r in rows) == 4_089_184_256
    assert not any(r["subtotal"] == "True" for r in rows)


def test_summary_markdown_parses_back():
    result = run("summary", "cifar-resnet", "--measure", "none", "--format", "markdown")
    tables = parse_markdown_tables(result.out)
    layers, totals = tables[0], tables[1]
    assert layers.align[layers.header.index("params")] == "right"
    assert layers.align[layers.header.index("Layer (type:depth-idx)")] == "left"
    params = [number(p) for p in layers.column("params")[:-1] if p != "--"]
    assert sum(params) == number(layers.column("params")[-1]) == 175_258  # reference: CIFAR ResNet
    assert number(totals.row("params")["value"]) == 175_258


def test_summary_json_unchanged():
    result = run("summary", "bottleneck", "--measure", "none", "--format", "json")
    assert json.loads(result.out) == paramscope.analyze("bottleneck", measure="none").to_dict()


# ---------------------------------------------------------------------- --depth


@pytest.mark.parametrize("target, params", [("resnet50", 25_557_032), ("cifar-resnet", 175_258),
                                            ("resnext50", 25_028_904)])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_subtotals_add_up(target, params, depth):
    report = paramscope.analyze(target, measure="none")
    groups = group_by_depth(report, depth)
    t = report.totals
    assert sum(g.params for g in groups) + report.extra_params == t["params"] == params
    for key in ("macs", "flops", "activation_bytes"):
        assert sum(getattr(g, key) for g in groups) == t[key]
    assert sum(len(g.rows) for g in groups) == len(report.layers)


def test_resnet50_depth1_groups():
    report = paramscope.analyze("resnet50", measure="none")
    assert [g.name for g in group_by_depth(report, 1)] == RESNET50_DEPTH1


@pytest.mark.parametrize("fmt", ["markdown", "csv"])
def test_depth_cli_subtotals_add_up(fmt):
    result = run("summary", "resnet50", "--measure", "none", "--depth", "1", "--format", fmt)
    assert result.code == 0, result.err
    shown = ["", *(n for n in RESNET50_DEPTH1 if n != "flatten")]  # the root row; Flatten counts nothing
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.out)))
        assert [r["module"] for r in rows] == shown
        assert sum(int(r["params"]) for r in rows) == 25_557_032
        assert sum(int(r["macs"]) for r in rows) == 4_089_184_256
        return
    table = parse_markdown_tables(result.out)[0]
    names = table.column("Layer (type:depth-idx)")
    assert len(names) == len(shown) + 1 and names[-1] == "Total"
    assert names[5] == "├─Sequential: 1-5" and names[-2] == "├─Linear: 1-11"
    values = [number(v) for v in table.column("params")[:-1] if v != "--"]
    assert sum(values) == number(table.column("params")[-1]) == 25_557_032


def test_depth_table_text():
    out = run("summary", "resnet50", "--measure", "none", "--depth", "1").out
    lines = out.splitlines()
    total = next(line for line in lines if line.startswith("Total "))
    assert "25,557,032" in total and "4.09 G" in total
    assert "MACs                  | 4,089,184,256 (4.09 G)" in out
    assert run("summary", "resnet50", "--depth", "0").code == 2


# ---------------------------------------------------------------------- terminals


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_summary_narrow_terminal(columns):
    out = run("summary", "resnet50", "--measure", "none", columns=columns).out
    assert all(len(line.rstrip()) <= columns for line in out.splitlines())
    assert "25,557,032" in out and "Bottleneck:" in out
    assert not ANSI.search(out) and not BOX_DRAWING.search(out)


def test_grid_drops_optional_columns_then_records():
    grid = Grid([Col("name"), Col("kind", optional=1), Col("value", numeric=True)])
    grid.add("a-rather-long-layer-name", "BatchNorm2d", 123_456_789)
    from paramscope.render.export import fitting_columns, min_width

    assert fitting_columns(grid, 200) == [0, 1, 2]
    assert fitting_columns(grid, 40) == [0, 2]
    assert min_width(grid, [0, 2]) > 20
    from rich.console import Console

    console = Console(file=io.StringIO(), width=20, no_color=True, color_system=None)
    console.print(rich_table(grid, width=20, plain=True))
    text = console.file.getvalue()
    assert "123,456,789" in text and all(len(line.rstrip()) <= 20 for line in text.splitlines())


def _printed(grid: Grid, width: int, plain: bool = True) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, no_color=True, color_system=None)
    console.print(rich_table(grid, width=width, plain=plain), crop=False)
    return console.file.getvalue()


def _wide_grid() -> Grid:
    grid = Grid([Col("layer"), Col("kind", optional=3), Col("width_per_group", numeric=True),
                 Col("description", optional=1), Col("params", numeric=True), Col("MACs", numeric=True),
                 Col("activations", numeric=True, optional=2), Col("error", note=True)])
    grid.add("layer4.2.conv3", "Conv2d", 64, "a 1x1 convolution that widens the bottleneck back", 1_048_576,
             "102.76 M", "401.41 KB", "")
    grid.add("fc", "Linear", 4, "the classifier", 2_049_000, "2.05 M", "4.00 KB",
             "a long error message that says what went wrong at /some/where/deep/in/a/path.yaml:12")
    return grid


@pytest.mark.parametrize("width", [*range(20, 130, 6), 200])
@pytest.mark.parametrize("plain", [True, False])
def test_table_never_cuts_a_number_or_a_word(width, plain):
    """Optional columns go (named under the table), text wraps between words, headers only
    between the pieces of a name; below the mandatory width, one record per row."""
    grid = _wide_grid()
    out = _printed(grid, width, plain)
    assert all(len(line.rstrip()) <= width for line in out.splitlines()), out
    for cell in ("1,048,576", "102.76 M", "2,049,000", "2.05 M", "layer4.2.conv3"):
        assert cell in out, (width, out)
    assert not re.search(r"width_p(?!er_)|(?<!p)er_grou|_grou(?!p)|bottlenec(?!k)", out), out
    joined = "".join(out.split())
    assert "error:alongerrormessagethatsayswhatwentwrongat/some/where/deep/in/a/path.yaml:12" in joined
    keep = export.fitting_columns(grid, width)
    if export.min_width(grid, keep) > width:  # records
        assert "activations" in out and "401.41 KB" in out
        return
    dropped = [c.header for i, c in enumerate(grid.columns) if i not in keep and not c.note]
    if dropped:
        assert f"columns dropped to fit {width} columns: {', '.join(dropped)}" in " ".join(out.split())
    else:
        assert "columns dropped" not in out and "401.41 KB" in out
    lines = out.splitlines()
    fc = next(i for i, line in enumerate(lines) if line.startswith("fc "))
    note = next(i for i, line in enumerate(lines) if line.startswith("  error: a long"))
    assert note > fc and all(line.startswith(" ") for line in lines[fc + 1:note])  # under its row


def test_columns_dropped_by_level():
    grid = _wide_grid()
    widths = {len(export.fitting_columns(grid, w)): w for w in range(20, 200)}
    assert sorted(widths) == [4, 5, 6, 7]  # layer, width_per_group, params, MACs are never dropped
    assert export.fitting_columns(grid, 30) == [0, 2, 4, 5]


def test_markdown_escapes_pipes():
    grid = Grid([Col("a"), Col("b", numeric=True)], title="t")
    grid.add("x|y", 5)
    text = markdown_table(grid)
    assert "x\\|y" in text and "|:---|---:|" in text
    table = parse_markdown_tables(text)[0]
    assert table.rows == [["x|y", "5"]]


# ---------------------------------------------------------------------- check


def test_check_formats():
    result = run("check", "resnet-stem", "vgg-stem", "--measure", "none", "--format", "csv")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [(r["target"], int(r["params"])) for r in rows] == [("resnet-stem", 9_472), ("vgg-stem", 260_160)]
    md = run("check", "resnet-stem", "--measure", "none", "--format", "markdown").out
    assert number(parse_markdown_tables(md)[0].row("resnet-stem")["params"]) == 9_472
    data = json.loads(run("check", "resnet-stem", "--measure", "none", "--format", "json").out)
    assert data[0]["target"] == "resnet-stem" and data[0]["ok"] is True


def test_progress_only_on_a_tty(capsys):
    from paramscope.render.progress import status

    with status("working", delay=0) as update:
        update("still working")
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest
