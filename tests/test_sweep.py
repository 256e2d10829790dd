"""paramscope sweep: grids of overrides and input sizes, analysed from the formulas."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from paramscope.errors import ParamscopeError
from paramscope.sweep import MAX_POINTS, parse_axes, parse_inputs, points, split_values, sweep

RESNET50 = (25_557_032, 4_089_184_256)
RESNEXT50_32X4D = (25_028_904, 4_230_479_872)
README = ("sweep", "resnext50_32x4d", "--set", "groups=1,2,4,8,32",
          "--set", "width_per_group=64,40,24,14,4", "--zip")


from conftest import run_cli  # noqa: E402  (the one in-process CLI runner)


# ---------------------------------------------------------------- value lists

@pytest.mark.parametrize("text, values", [
    ("1,2,4", ["1", "2", "4"]),
    ("64", ["64"]),
    ("[3,4,6,3]", ["[3,4,6,3]"]),
    ("[3,4,6,3],[3, 4, 23, 3]", ["[3,4,6,3]", "[3, 4, 23, 3]"]),
    ("{a: 1, b: 2},x", ["{a: 1, b: 2}", "x"]),
    ("'a,b',c", ["'a,b'", "c"]),
    ('"x,[y",z', ['"x,[y"', "z"]),
    (" 1 , 2 ", ["1", "2"]),
])
def test_split_values(text, values):
    assert split_values(text) == values


def test_parse_axes_reads_values_like_set():
    axes = parse_axes(["groups=1,2,32", "depths=[3,4,6,3],[2,2,2,2]", "stride_in_1x1=true,false",
                       "name=a,'b,c'", "p=0.5"])
    assert axes == {"groups": [1, 2, 32], "depths": [[3, 4, 6, 3], [2, 2, 2, 2]],
                    "stride_in_1x1": [True, False], "name": ["a", "b,c"], "p": [0.5]}


@pytest.mark.parametrize("items, message", [
    (["groups"], "key=value"),
    (["1x=2"], "key=value"),
    (["groups=1,,2"], "empty value"),
    (["groups=1,"], "empty value"),
    (["groups=1", "groups=2"], "given twice"),
    (["depths=[3,4"], "--set value"),
])
def test_parse_axes_errors(items, message):
    with pytest.raises(ParamscopeError, match=message):
        parse_axes(items)


def test_parse_inputs():
    assert parse_inputs(["224,320", "3x448x448"]) == ["224", "320", "3x448x448"]
    assert parse_inputs(None) == []
    with pytest.raises(ParamscopeError, match="empty size"):
        parse_inputs(["224,"])


# ---------------------------------------------------------------- grids

def test_product_order_and_inputs():
    grid = points({"a": [1, 2], "b": ["x", "y"]}, ["224", "320"])
    assert len(grid) == 8
    assert grid[0] == ({"a": 1, "b": "x"}, "224")
    assert grid[1] == ({"a": 1, "b": "x"}, "320")
    assert grid[-1] == ({"a": 2, "b": "y"}, "320")


def test_zip_pairs_and_broadcasts_single_values():
    grid = points({"a": [1, 2, 3], "b": [4, 5, 6], "c": [0]}, ["224", "320", "448"], zip_=True)
    assert grid == [({"a": 1, "b": 4, "c": 0}, "224"), ({"a": 2, "b": 5, "c": 0}, "320"),
                    ({"a": 3, "b": 6, "c": 0}, "448")]
    assert points({"a": [1, 2]}, ["224"], zip_=True) == [({"a": 1}, "224"), ({"a": 2}, "224")]


def test_zip_needs_equal_lengths():
    with pytest.raises(ParamscopeError, match=r"equal length.*groups has 3.*width has 2"):
        points({"groups": [1, 2, 4], "width": [64, 40]}, [], zip_=True)
    with pytest.raises(ParamscopeError, match=r"--input has 2"):
        points({"groups": [1, 2, 4]}, ["224", "320"], zip_=True)


def test_no_axes_is_one_point():
    assert points({}, []) == [({}, None)]


def test_point_limit():
    axes = {"a": list(range(200)), "b": list(range(200))}
    with pytest.raises(ParamscopeError, match="limit"):
        points(axes, [])
    assert len(points(axes, [], zip_=True)) == 200
    assert MAX_POINTS >= 1000


# ---------------------------------------------------------------- the README example

def test_readme_resnext_tradeoff():
    code, out, err = run_cli(*README, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [r["overrides"] for r in rows] == [
        {"groups": g, "width_per_group": w} for g, w in [(1, 64), (2, 40), (4, 24), (8, 14), (32, 4)]]
    assert all(r["input_shape"] == [1, 3, 224, 224] for r in rows)
    first, last = rows[0]["totals"], rows[-1]["totals"]
    assert (first["params"], first["macs"]) == RESNET50
    assert (last["params"], last["macs"]) == RESNEXT50_32X4D
    # the paper's complexity-preserving trade-off: every point within a few % of resnet50
    for row in rows:
        assert abs(row["totals"]["params"] / RESNET50[0] - 1) < 0.03
        assert abs(row["totals"]["macs"] / RESNET50[1] - 1) < 0.05
        assert row["ratio"]["params"] == pytest.approx(row["totals"]["params"] / RESNET50[0])
    assert rows[0]["ratio"] == {"params": 1.0, "macs": 1.0, "flops": 1.0, "activation_bytes": 1.0}


def test_readme_table():
    code, out, err = run_cli(*README)
    assert code == 0, err
    assert "groups" in out and "width_per_group" in out
    assert "25,557,032" in out and "25,028,904" in out
    assert len([line for line in out.splitlines() if "1×3×224×224" in line]) == 5


def test_csv_and_markdown():
    code, out, err = run_cli(*README, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 5
    assert rows[0]["groups"] == "1" and int(rows[0]["params"]) == RESNET50[0]
    assert int(rows[-1]["macs"]) == RESNEXT50_32X4D[1]
    code, out, err = run_cli(*README, "--format", "markdown")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("| groups | width_per_group |")
    assert len(lines) == 2 + 5


def test_zip_length_mismatch_exits_2():
    code, out, err = run_cli("sweep", "resnext50_32x4d", "--set", "groups=1,2,4",
                             "--set", "width_per_group=64,40", "--zip")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "equal length" in err


@pytest.mark.parametrize("args, message", [
    (("--set", "nope=1,2"), "no such parameter"),
    (("--input", "224,abc"), "--input"),
    (("--format", "xml"), "--format"),
    (("--measure", "bogus"), "unknown tool"),
    (("--dtype", "int3"), "--dtype"),
])
def test_bad_options_exit_2(args, message):
    code, out, err = run_cli("sweep", "resnet18", *args)
    assert code == 2, (out, err)
    assert message in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- semantics

def test_inputs_and_lists_product():
    result = sweep("resnet50", {"depths": [[3, 4, 6, 3], [3, 8, 36, 3]]}, ["224", "448"], batch=2)
    assert [r.input_shape for r in result.rows] == [(2, 3, 224, 224), (2, 3, 448, 448)] * 2
    small, big = result.rows[0].totals, result.rows[1].totals
    assert big["params"] == small["params"] == RESNET50[0]
    assert result.rows[2].totals["params"] == 60_192_808  # resnet152's depths
    assert result.rows[0].totals["macs"] == 2 * RESNET50[1]
    assert result.rows[1].ratio["params"] == 1.0
    assert result.to_dict()["rows"][0]["input_shape"] == [2, 3, 224, 224]


def test_default_is_analytic_only():
    result = sweep("resnet18", {"num_classes": [10, 100]})
    assert result.measure == ()
    assert all(not r.measurers for r in result.rows)
    assert result.rows[1].totals["params"] - result.rows[0].totals["params"] == 90 * 512 + 90


def test_spec_is_parsed_once(monkeypatch):
    import paramscope.spec.document as document

    calls = []
    real = document.load_file
    monkeypatch.setattr(document, "load_file", lambda path: calls.append(path) or real(path))
    result = sweep("resnext50_32x4d", {"groups": [1, 2, 4, 8], "width_per_group": [4, 8, 16]},
                   ["160", "224"])
    assert len(result.rows) == 24
    assert len(calls) == 2  # resnext50_32x4d.yaml and the resnet-blocks library it imports


def test_failing_points_are_rows(tmp_path):
    spec = tmp_path / "grouped.yaml"
    spec.write_text("name: grouped\ninput: [8, 16, 16]\nparams: {groups: 1}\nlayers:\n"
                    "  - conv: {out_channels: 8, kernel_size: 3, groups: '${groups}'}\n")
    result = sweep(str(spec), {"groups": [1, 3, 4]})
    assert [bool(r.error) for r in result.rows] == [False, True, False]
    assert "groups" in result.rows[1].error
    assert result.rows[2].totals["params"] == 8 * 2 * 9 + 8
    code, out, err = run_cli("sweep", str(spec), "--set", "groups=1,3,4")
    assert code == 1, err
    assert "error:" in out and "1 of 3 points" in out
    code, out, err = run_cli("sweep", str(spec), "--set", "groups=3,5")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "none of the 2 points" in err and "(groups=3, input 1×8×16×16)" in err


def test_hundreds_of_points():
    result = sweep("resnet18", {"num_classes": list(range(10, 210, 10))},
                   [str(s) for s in range(128, 448, 32)])
    assert len(result.rows) == 200
    assert not any(r.error for r in result.rows)


def test_opt_in_measure():
    pytest.importorskip("torch")
    try:
        import paramscope.reconciling.run  # noqa: F401
    except ImportError as err:
        pytest.skip(f"measurers not available yet ({err})")
    result = sweep("resnet-stem", {}, ["64", "128"], measure="flop_counter")
    assert result.measure == ("flop_counter",)
    assert all("flop_counter" in r.measurers for r in result.rows)


# ---------------------------------------------------------------- the table at any width

from render_helpers import run  # noqa: E402

from paramscope.render.export import _pieces  # noqa: E402
from paramscope.render.units import factor, human, nbytes  # noqa: E402

#: a number as the table prints it: digits with separators and decimals, a unit after it
NUMBER = re.compile(r"(?<![\w.,×])-?\d[\d,]*(?:\.\d+)?(?:e[+-]\d+)?(?: (?:[KMGTPE]?B|[KMGTPE]))?(?![\w.,×])")


def _expected(row: dict) -> dict[str, str]:
    """Each column's text for a JSON row of the same sweep (the independent source of the figures)."""
    t, r = row["totals"], row["ratio"]
    return {"params": f"{t['params']:,}", "MACs": human(t["macs"]), "FLOPs": human(t["flops"]),
            "activations": nbytes(t["activation_bytes"]), "params ×": factor(r["params"]),
            "MACs ×": factor(r["macs"]), "FLOPs ×": factor(r["flops"])}


def _header_words(headers) -> set[str]:
    """Every way a header may be broken: runs of its pieces (``width_``, ``per_group`` …)."""
    out = set()
    for header in headers:
        for word in header.split():
            pieces = [p for p, _ in _pieces(word)]
            out |= {"".join(pieces[i:j]) for i in range(len(pieces)) for j in range(i + 1, len(pieces) + 1)}
    return out


def _dropped(out: str) -> list[str]:
    text = " ".join(out.split("\n"))
    found = re.search(r"columns dropped to fit \d+ columns: (.*?)(?:$| \d+ of )", text)
    return [c.strip() for c in found.group(1).split(",")] if found else []


@pytest.mark.parametrize("columns", [60, 80, 100, None])
def test_readme_sweep_at_any_width(columns):
    """COLUMNS=60/80/100 and piped (120): every row shows its swept values and input, every
    number is whole and equal to the JSON's figure, headers break only between pieces."""
    code, out, err = run_cli(*README, "--format", "json")
    rows = json.loads(out)["rows"]
    env = {} if columns is None else {"COLUMNS": str(columns)}
    result = run(*README, columns=columns or 120, env=env)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert all(len(line.rstrip()) <= (columns or 120) for line in lines)
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) <= set("-+"))
    header_tokens = {w for line in lines[:rule] for w in line.replace("|", " ").split()}
    all_headers = ["groups", "width_per_group", "input", *_expected(rows[0])]
    assert header_tokens <= _header_words(all_headers), header_tokens
    dropped = _dropped(result.out)
    assert not {"groups", "width_per_group", "input", "params", "MACs"} & set(dropped)
    body = lines[rule + 1:rule + 1 + len(rows)]
    for line, row in zip(body, rows):
        cells = [c.strip() for c in line.split("|")]
        assert cells[:3] == [str(row["overrides"]["groups"]), str(row["overrides"]["width_per_group"]),
                             "1×3×224×224"]
        shown = [text for name, text in _expected(row).items() if name not in dropped]
        assert cells[3:] == shown
        # every number token whole (the input's dims are not tokens): none cut or split
        assert NUMBER.findall(line) == [*cells[:2], *shown]


def test_readme_sweep_too_narrow_for_a_table_is_records():
    result = run(*README, columns=30)
    assert result.code == 0
    assert all(len(line.rstrip()) <= 30 for line in result.out.splitlines())
    for value in ("width_per_group", "25,557,032", "4.09 G", "150.25 MB", "189.69 MB", "1×3×224×224"):
        assert value in result.out


FAILING = ("sweep", "conv-dense", "--set", "groups=1,3,32")


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_failing_point_keeps_the_other_rows_whole(columns):
    result = run(*FAILING, columns=columns)
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    assert all(len(line.rstrip()) <= columns for line in lines)
    one = next(line for line in lines if line.startswith("1 "))
    thirty_two = next(line for line in lines if line.startswith("32 "))
    assert "73,856" in one and "214.99 M" in one and "2,432" in thirty_two and "6.72 M" in thirty_two
    if "activations" not in _dropped(result.out):
        assert "1.49 MB" in one and "1.49 MB" in thirty_two
    failed = next(i for i, line in enumerate(lines) if line.startswith("3 "))
    assert "--" in lines[failed]
    error = sweep("conv-dense", {"groups": [1, 3, 32]}).rows[1].error
    under = " ".join(line.strip() for line in lines[failed + 1:] if line.startswith("  "))
    assert "".join(under.split()) == "".join(f"error: {error}".split())  # whole, maybe folded
    assert " ".join(result.out.split()).endswith("1 of 3 points could not be analysed (see the error of each)")


def test_failing_point_in_every_format(tmp_path):
    for fmt in ("json", "csv", "markdown", "table"):
        path = tmp_path / f"sweep.{fmt}"
        code, out, err = run_cli(*FAILING, "--format", fmt, "--output", str(path))
        assert code == 1 and out == "", err
        text = path.read_text(encoding="utf-8")
        # (a wrapped table line breaks where the config's path, and so the checkout, puts it)
        assert "groups=3 must divide in_channels (64)" in " ".join(text.split()), fmt
        if fmt == "json":
            rows = json.loads(text)["rows"]
            assert [("error" in r) for r in rows] == [False, True, False]
            assert rows[2]["totals"]["params"] == 2_432
        elif fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(text)))
            assert [r["error"] != "" for r in rows] == [False, True, False]
            assert rows[1]["params"] == "" and rows[2]["params"] == "2432"
        elif fmt == "markdown":
            assert text.splitlines()[0].endswith("| error |")
            assert "1 of 3 points could not be analysed" in text
        else:
            assert "73,856" in text and "1 of 3 points" in text


def test_output_writes_what_stdout_prints(tmp_path):
    for fmt in ("json", "csv", "markdown"):
        path = tmp_path / f"out.{fmt}"
        code, printed, err = run_cli(*README, "--format", fmt)
        assert code == 0, err
        assert run_cli(*README, "--format", fmt, "--output", str(path)).code == 0
        assert path.read_text(encoding="utf-8") == printed
    assert run_cli(*README, "--output", str(tmp_path)).code == 2  # a directory is refused


def test_all_points_failing_exits_2_with_one_line():
    code, out, err = run_cli("sweep", "conv-dense", "--set", "groups=3,5")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "none of the 2 points of the sweep could be analysed" in err
