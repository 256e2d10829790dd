"""CLI conventions (issue 11): --version, shell completion, choices in --help, check's summary line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_version() -> str:
    """The version pyproject.toml declares: the truth package metadata is built from."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["version"]


def _run_module(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m paramscope ARGS`` from this checkout, in a fresh interpreter."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "paramscope", *args], capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=120)


def test_version_prints_the_package_version(cli):
    for flag in ("--version", "-V"):
        code, out, err = cli(flag)
        assert (code, err) == (0, "")
        assert out == f"paramscope {_pyproject_version()}\n"


def test_version_wins_over_a_command(cli):
    code, out, _ = cli("--version", "list")
    assert code == 0 and out.strip() == f"paramscope {_pyproject_version()}"


def test_help_offers_shell_completion(cli):
    code, out, _ = cli("--help")
    assert code == 0
    assert "--install-completion" in out and "--show-completion" in out and "--version" in out


def test_show_completion_prints_a_bash_script():
    # typer detects the user's shell from the process tree; its own switch makes it take the
    # shell as an argument instead, so the test does not depend on who started pytest
    proc = _run_module("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert proc.returncode == 0 and proc.stderr == ""
    assert "_PARAMSCOPE_COMPLETE=complete_bash" in proc.stdout
    assert "complete -o default -F _paramscope_completion paramscope" in proc.stdout


def test_tab_completion_completes_command_names():
    """What bash runs on TAB: the completion script's own protocol, answered by the app."""
    proc = _run_module(env={"_PARAMSCOPE_COMPLETE": "complete_bash", "COMP_WORDS": "paramscope s",
                            "COMP_CWORD": "1"})
    assert proc.returncode == 0 and proc.stderr == ""
    assert sorted(proc.stdout.split()) == ["schema", "show", "summary", "sweep"]


def test_sys_exit_in_user_code_is_still_an_error(tmp_path):
    """Completion's sys.exit passes through; a factory's sys.exit stays a one-line error, exit 2."""
    (tmp_path / "exiting_factory.py").write_text("import sys\n\ndef make():\n    sys.exit(0)\n")
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    proc = subprocess.run([sys.executable, "-m", "paramscope", "summary", "exiting_factory:make",
                           "--measure", "none", "--input", "3x8x8"], capture_output=True, text=True,
                          cwd=tmp_path, env=dict(os.environ, **env), timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paramscope: error: ") and "sys.exit(0)" in lines[0]


def _choice_truth() -> dict[str, tuple[str, ...]]:
    """Each choice option's allowed values, from the tuples the library validates with."""
    from paramscope.analysis import DEFAULT_MEASURERS, OPT_IN_MEASURERS
    from paramscope.measure.timing import CLOCKS
    from paramscope.render.export import FORMATS
    from paramscope.reconciling.report import DTYPES
    from paramscope.training.analysis import MODES
    from paramscope.training.memory import OPTIMIZERS

    return {"--format": FORMATS, "--dtype": DTYPES, "--mode": MODES, "--optimizer": OPTIMIZERS,
            "--clock": tuple(CLOCKS),
            "--measure": (*DEFAULT_MEASURERS, *OPT_IN_MEASURERS, "memtracker", "all", "none")}


def _commands() -> dict:
    """Command name -> click command, as the app registers them."""
    import typer.main

    from paramscope.cli.main import _register_commands, app

    _register_commands()
    return dict(typer.main.get_command(app).commands)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w-]+", text))


def test_every_help_lists_the_choices_of_its_choice_options(cli, monkeypatch):
    """Walk every command's --help (80 columns): each choice option's help names every allowed value,
    and nothing in the help is cut with an ellipsis."""
    monkeypatch.setenv("COLUMNS", "80")
    truth = _choice_truth()
    seen = set()
    for name, command in _commands().items():
        code, out, err = cli(name, "--help")
        assert code == 0 and err == "", name
        assert not re.search(r"\S…", out), f"{name} --help cuts a word:\n{out}"  # rich's cut: "flop_counte…"
        for param in command.params:
            option = next((o for o in param.opts if o in truth), None)
            if option is None:
                continue
            allowed = ("yaml", *truth[option]) if name == "show" and option == "--format" else truth[option]
            missing = [v for v in allowed if v not in _words(param.help or "") or v not in _words(out)]
            assert not missing, f"paramscope {name} --help: {option} does not list {missing}"
            seen.add(option)
    assert seen == set(truth)  # every kind of choice option was walked at least once


def test_show_format_choices_are_what_show_accepts(cli):
    from paramscope.cli.options import FORMAT_CHOICES, SHOW_FORMATS

    assert SHOW_FORMATS == ("yaml", *FORMAT_CHOICES)
    code, _, err = cli("show", "resnet-stem", "--format", "xml")
    assert code == 2 and "yaml, table, json, csv, markdown" in err and len(err.splitlines()) == 1


def test_bad_choice_values_still_exit_2_with_one_line(cli):
    for args in (("summary", "resnet-stem", "--format", "yaml"), ("sweep", "resnet-stem", "--dtype", "int8"),
                 ("check", "resnet-stem", "--mode", "eval"), ("compare", "a", "b", "--clock", "gpu"),
                 ("summary", "resnet-stem", "--measure", "bogus"),
                 ("summary", "resnet-stem", "--mode", "train", "--optimizer", "lion")):
        code, out, err = cli(*args)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, (args, err)


# ---------------------------------------------------------------------- check's summary line


def _table_targets(out: str) -> list[str]:
    """The target column of check's plain table (rows between the rule and the summary line)."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line) <= set("-+ ") and "-" in line)
    return [line.split("|")[0].strip() for line in lines[rule + 1:] if "|" in line]


def test_check_ends_with_one_summary_line_and_checks_duplicates_once(cli):
    code, out, err = cli("check", "resnet-stem", "vgg-stem", "resnet-stem", "--measure", "none")
    assert code == 0, err
    assert _table_targets(out) == ["resnet-stem", "vgg-stem"]
    assert out.splitlines()[-1] == "checked 2 targets: 2 ok, 0 mismatch, 0 incomplete"


def test_check_all_with_a_named_target_checks_it_once(cli):
    import json

    builtin = [row["name"] for row in json.loads(cli("list", "--format", "json").out)]
    code, out, err = cli("check", "resnet-stem", "--all", "--measure", "none")
    assert code == 0, err
    targets = _table_targets(out)
    assert sorted(targets) == sorted(builtin) and targets[0] == "resnet-stem"
    assert out.splitlines()[-1] == f"checked {len(builtin)} targets: {len(builtin)} ok, 0 mismatch, 0 incomplete"


def test_check_markdown_ends_with_the_summary_line(cli):
    code, out, _ = cli("check", "resnet-stem", "--measure", "none", "--format", "markdown")
    assert code == 0 and out.rstrip("\n").splitlines()[-1] == "checked 1 target: 1 ok, 0 mismatch, 0 incomplete"


def test_check_summary_counts_an_incomplete_target(cli, fft_factory):
    """torch.fft has no formula: that target is INCOMPLETE in its row and in the count."""
    target = fft_factory("fftnet_summary")
    code, out, err = cli("check", "resnet-stem", target, "--input", "1x3x16x16",
                         "--measure", "flop_counter")
    assert code == 1, err
    assert out.splitlines()[-1] == "checked 2 targets: 1 ok, 0 mismatch, 1 incomplete"


def test_summary_line_counts_each_verdict():
    from types import SimpleNamespace

    from paramscope.render.check import summary_line, verdict

    ok = SimpleNamespace(ok=True, complete=True)
    bad = SimpleNamespace(ok=False, complete=True)
    gap = SimpleNamespace(ok=True, complete=False)
    results = [("a", ok, []), ("b", bad, ["row"]), ("c", gap, []), ("d", bad, ["row", "row"])]
    assert [verdict(r, b) for _, r, b in results] == ["ok", "MISMATCH (1 layers)", "INCOMPLETE",
                                                      "MISMATCH (2 layers)"]
    assert summary_line(results) == "checked 4 targets: 1 ok, 2 mismatch, 1 incomplete"


def test_help_into_a_closed_pipe_prints_no_error():
    """``paramscope --help | head -1``: the reader leaves early; no error line, exit 141 or 0."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "paramscope", "--help"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # like head: stop reading
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert err == "" and code in (0, 141), (code, err)


def test_command_modules_do_not_import_the_entry_point():
    """Typer's pattern: command modules register on cli.app; only cli.main imports them."""
    import pathlib

    import paramscope.cli as cli

    for path in pathlib.Path(cli.__file__).parent.glob("*_commands.py"):
        assert "paramscope.cli.main" not in path.read_text(encoding="utf-8"), path.name


# ---------------------------------------------------------------------- option parity

#: the shared options each command takes (sweep: helper-owned, checked for what it has today)
PARITY = {
    "summary": {"--format", "--output", "--dtype", "--input", "--batch", "--set"},
    "check": {"--format", "--output", "--dtype", "--input", "--batch", "--set"},
    "compare": {"--format", "--output", "--dtype", "--input", "--batch", "--set"},
    "explain": {"--format", "--output", "--dtype", "--input", "--batch", "--set"},
    "profile": {"--format", "--output", "--dtype", "--input", "--batch", "--set"},
    "show": {"--format", "--output", "--input", "--batch", "--set"},
    "list": {"--format", "--output"},
    "schema": {"--output"},
    "sweep": {"--format", "--dtype", "--input", "--batch", "--set"},
}


def test_commands_share_the_options_that_make_sense_for_them():
    commands = _commands()
    assert set(PARITY) == set(commands)
    for name, wanted in PARITY.items():
        opts = {o for p in commands[name].params for o in p.opts}
        assert wanted <= opts, f"{name} lacks {sorted(wanted - opts)}"


def _configs_on_disk() -> dict[str, tuple[int, ...]]:
    """Built-in config name -> its input: line, read from the YAML files themselves."""
    import yaml

    out = {}
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "input" in data:  # the libraries (resnet-blocks) have none
            out[data["name"]] = tuple(data["input"])
    return out


def test_list_in_every_format(cli, tmp_path):
    import csv
    import io

    truth = _configs_on_disk()
    code, out, err = cli("list", "--format", "csv")
    assert (code, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["name"]: r["input"] for r in rows} == {n: "x".join(map(str, s)) for n, s in truth.items()}
    code, out, _ = cli("list", "--format", "markdown")
    assert code == 0 and out.startswith("| name | input | description |")
    body = [line for line in out.splitlines()[2:] if line.startswith("| ")]
    assert len(body) == len(truth) and "| resnet50 | 3×224×224 |" in out
    target = tmp_path / "configs.json"
    assert cli("list", "--format", "json", "--output", str(target)).out == ""
    import json

    assert {r["name"] for r in json.loads(target.read_text())} == set(truth)


def _spec_module_names(name: str) -> list[str]:
    """Module names torch gives the spec's built model (named_modules, the root left out)."""
    from paramscope.api import resolve_spec
    from paramscope.building.builder import module_from_resolved

    model = module_from_resolved(resolve_spec(name), device="meta")
    return [n for n, _ in model.named_modules() if n]


def test_show_formats_list_the_modules_torch_names(cli):
    import csv
    import io
    import json

    torch_names = _spec_module_names("bottleneck-projection")
    code, out, err = cli("show", "bottleneck-projection", "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert sorted(m["name"] for m in data["modules"]) == sorted(torch_names)
    assert data["input_shape"] == [1, 64, 56, 56]
    conv2 = next(m for m in data["modules"] if m["name"] == "block.conv2")
    assert conv2["out_shape"] == [1, 64, 28, 28] and conv2["arguments"]["stride"] in (2, [2, 2])
    code, out, _ = cli("show", "bottleneck-projection", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["module"] for r in rows] == [m["name"] for m in data["modules"]]
    assert {r["module"]: r["out_shape"] for r in rows}["block.conv2"] == "1x64x28x28"
    code, out, _ = cli("show", "bottleneck-projection", "--format", "table")
    assert code == 0 and "block.conv_shortcut.0" in out and "1×128×28×28" in out
    code, out, _ = cli("show", "bottleneck-projection", "--format", "markdown")
    assert code == 0 and "| block.conv2 | conv |" in out
    assert cli("show", "bottleneck-projection").out.startswith("# bottleneck-projection: resolved from")


def test_show_and_list_formats_need_no_torch():
    code = ("import sys; from paramscope.cli.main import main\n"
            "for argv in (['show', 'resnet50', '-f', 'table'], ['list', '-f', 'csv']):\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n        assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_schema_writes_its_output_file(cli, tmp_path):
    import json

    target = tmp_path / "schema.json"
    code, out, err = cli("schema", "--output", str(target))
    assert (code, out, err) == (0, "", "")
    assert json.loads(target.read_text())["title"] == "paramscope spec"


def test_check_dtype(cli):
    code, out, err = cli("check", "resnet-stem", "--dtype", "float16", "--measure", "none")
    assert code == 0, err
    assert out.splitlines()[-1] == "checked 1 target: 1 ok, 0 mismatch, 0 incomplete"
    code, out, err = cli("check", "resnet-stem", "--dtype", "float16")  # every tool runs the float16 model
    assert code == 0, err
    assert out.splitlines()[-1] == "checked 1 target: 1 ok, 0 mismatch, 0 incomplete"
    code, out, err = cli("check", "resnet-stem", "--dtype", "int8", "--measure", "none")
    assert code == 2 and len(err.splitlines()) == 1 and "float16" in err


# ---------------------------------------------------------------------- argument names


def test_positional_arguments_are_named_as_users_read_them(cli):
    expected = {"summary": ["TARGET"], "check": ["TARGETS"], "compare": ["TARGETS"],
                "explain": ["TARGET", "LAYER"], "show": ["TARGET"], "profile": ["TARGET"],
                "sweep": ["TARGET"], "list": [], "schema": []}
    for name, command in _commands().items():
        args = [p for p in command.params if p.param_type_name == "argument"]
        assert [p.metavar for p in args] == expected[name], name
        usage = cli(name, "--help").out
        for metavar in expected[name]:
            assert re.search(rf"[{{\[]{metavar}[}}\]]", usage), (name, metavar)
        assert not re.search(r"[{\[](target|targets|layer_args)[}\]]", usage), name
    code, _, err = cli("show")
    assert code == 2 and "Missing argument 'TARGET'" in err


# ---------------------------------------------------------------------- one name per layer


def _explained_key(cli, target: str, name: str) -> str:
    """The row key ``explain TARGET NAME`` shows in its detail line (one leaf layer)."""
    code, out, err = cli("explain", target, name)
    assert code == 0, (name, err)
    return out.splitlines()[2].strip().split(" (")[0]


def test_explain_takes_every_name_compare_shows(cli):
    from paramscope.reconciling.comparison import Comparison

    import paramscope

    cmp = Comparison([paramscope.analyze(t, measure="none") for t in ("bottleneck-projection", "bottleneck")],
                     ["bottleneck-projection", "bottleneck"])
    mode, rows = cmp.layer_alignment()
    assert mode == "name" and [a.label for a in rows] == ["conv1", "conv2", "conv3", "conv_shortcut.0"]
    code, out, _ = cli("compare", "bottleneck-projection", "bottleneck", "--no-rf")
    for aligned in rows:
        assert f"\n{aligned.label} " in out  # the name as compare prints it
        key = _explained_key(cli, "bottleneck-projection", aligned.label)
        assert key == aligned.items[0].node.key  # the same layer


def test_explain_takes_torch_module_names_row_keys_and_call_indices(cli):
    import json

    target = "bottleneck-projection"
    for name in _spec_module_names(target):  # what named_modules yields, containers included
        code, _, err = cli("explain", target, name)
        assert code == 0, (name, err)
    layers = json.loads(cli("summary", target, "--measure", "none", "--format", "json").out)["layers"]
    keys = [row["name"] for row in layers]
    assert {"block.relu#1", "block.relu#2", "block:add"} <= set(keys)
    for key in keys:  # summary's row keys, and compare's spelling of them below `block.`
        assert _explained_key(cli, target, key) == key
        short = key.replace("block.", "", 1).replace("block:", ":", 1)
        assert _explained_key(cli, target, short) == key


def test_explain_takes_summary_depth_groups(cli):
    import csv
    import io

    out = cli("summary", "resnet50", "--measure", "none", "--depth", "2", "--format", "csv").out
    groups = [row["module"] for row in csv.DictReader(io.StringIO(out))]
    assert "layer1.0" in groups
    for group in groups:
        code, _, err = cli("explain", "resnet50", group)
        assert code == 0, (group, err)


def test_unknown_layer_name_is_one_line_with_the_closest_names(cli):
    code, out, err = cli("explain", "bottleneck-projection", "conv9")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "no layer 'conv9'" in err and "did you mean" in err and "conv1" in err


def test_compare_and_explain_share_one_name_resolver():
    import paramscope.reconciling.comparison as comparison
    import paramscope.render.explain as explain
    from paramscope.reconciling import names

    assert explain.select is names.select and comparison.short_key is names.short_key


# ---------------------------------------------------------------------- depth


#: depth as the papers name the networks: ResNet-N (He et al. 2016; the CIFAR ResNet is 6n+2
#: with n=2), VGG-N configurations A, D, E (Simonyan & Zisserman 2015)
PAPER_DEPTH = {"resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet101": 101, "resnet152": 152,
               "resnet50-v1": 50, "vgg11": 11, "vgg16": 16, "vgg19": 19, "cifar-resnet": 14,
               "resnext50_32x4d": 50, "wide_resnet50_2": 50}


def _depths(cli, *targets: str) -> dict[str, int]:
    import csv
    import io

    code, out, err = cli("compare", *targets, "--no-rf", "--format", "csv")
    assert code == 0, err
    return {row["target"]: int(row["depth"]) for row in csv.DictReader(io.StringIO(out))}


def test_depth_of_builtin_configs_is_the_papers(cli):
    assert _depths(cli, *PAPER_DEPTH) == PAPER_DEPTH


def test_spec_depth_equals_the_built_models_depth():
    """The two ways of computing it agree: the spec's module tree and a meta pass of its torch model."""
    from paramscope.api import resolve_spec
    from paramscope.building.builder import module_from_resolved
    from paramscope.tracing.depth import module_depth, spec_depth

    for name in ("resnet50", "vgg16", "cifar-resnet", "bottleneck-projection", "basic-block"):
        resolved = resolve_spec(name)
        model = module_from_resolved(resolved, device="meta").eval()
        assert spec_depth(resolved.root) == module_depth(model, resolved.input_shape), name


def test_depth_label_states_the_definition(cli):
    from paramscope.tracing.depth import DEFINITION, LABEL

    out = cli("compare", "resnet-stem", "vgg-stem", "--no-rf").out
    assert LABEL in " ".join(out.split()) and "conv + linear" in LABEL and "longest path" in LABEL
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "depth (conv + linear, longest path)" in readme and "projection shortcut" in readme
    assert "projection shortcuts" in DEFINITION


# ---------------------------------------------------------------------- compare's input warning


def test_compare_warns_when_inputs_differ(cli):
    code, out, err = cli("compare", "resnet-stem", "cifar-resnet", "--no-rf", "--no-layers")
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("paramscope: warning: ")
    assert "1×3×224×224" in lines[0] and "1×3×32×32" in lines[0]
    code, out, err = cli("compare", "resnet-stem", "vgg-stem", "--no-rf", "--no-layers")
    assert code == 0 and err == ""
    code, out, err = cli("compare", "resnet-stem", "vgg-stem", "--no-rf", "--input", "32", "--format", "csv")
    assert err == ""  # the same --input for both


# ---------------------------------------------------------------------- shape spelling


SHAPE_CSV = re.compile(r"^\d+(x\d+)*$")


def test_csv_spells_shapes_with_x_and_tables_with_times(cli):
    import csv
    import io

    def column(args, name):
        code, out, err = cli(*args, "--format", "csv")
        assert code == 0, err
        return [row[name] for row in csv.DictReader(io.StringIO(out))]

    cells = [*column(("summary", "resnet-stem", "--measure", "none"), "in_shape"),
             *column(("summary", "resnet-stem", "--measure", "none"), "out_shape"),
             *column(("summary", "resnet-stem", "--measure", "none", "--depth", "1"), "out_shape"),
             *column(("compare", "resnet-stem", "vgg-stem", "--no-rf"), "input_shape"),
             *column(("compare", "resnet-stem", "vgg-stem", "--no-rf"), "output_shape"),
             *column(("list",), "input"), *column(("show", "resnet-stem"), "out_shape")]
    assert cells and all(SHAPE_CSV.match(c) for c in cells), cells
    assert "1x3x224x224" in cells
    for args, shape in ((("summary", "resnet-stem", "--measure", "none"), "1×64×112×112"),
                        (("compare", "resnet-stem", "vgg-stem"), "1×3×224×224"),
                        (("list",), "3×224×224"), (("show", "resnet-stem", "-f", "table"), "1×64×112×112")):
        out = cli(*args).out
        assert shape in out and shape.replace("×", "x") not in out, args
