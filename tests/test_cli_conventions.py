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
    proc = _run_module("--show-completion", "bash")
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
            allowed = ("table", "json") if name == "list" and option == "--format" else truth[option]
            missing = [v for v in allowed if v not in _words(param.help or "") or v not in _words(out)]
            assert not missing, f"paramscope {name} --help: {option} does not list {missing}"
            seen.add(option)
    assert seen == set(truth)  # every kind of choice option was walked at least once


def test_list_format_choices_are_what_list_accepts(cli):
    code, _, err = cli("list", "--format", "csv")
    assert code == 2 and "table, json" in err and len(err.splitlines()) == 1


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
