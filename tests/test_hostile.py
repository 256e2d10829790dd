"""The hostile corpus (issue 12): specs and CLI values that once hung, blew up memory,
printed tracebacks, exited 0/3, or touched the user's files and terminal.

Every case runs the real CLI in a child process under ``RLIMIT_AS`` = 2 GB; its CPU
time and peak RSS come from ``os.wait4`` (so a loaded machine cannot fail the test, and
a hang is caught by a wall-clock guard).  Each must exit with its documented code
(2 with exactly one ``paramscope: error:`` line naming the limit or problem; 0 for
inputs that used to crash but are valid), leave no traceback, no escape character on
stdout/stderr, and leave the input files as they were.
"""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from paramscope.errors import ParamscopeError

ROOT = Path(__file__).resolve().parent.parent
CPU_SECONDS = 10
MAX_RSS = 2 * 1024**3
WALL_GUARD = 120  # a hang (not slowness) kills the child after this


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes]
    args: list
    code: int = 2
    expect: tuple[str, ...] = ()  # substrings of the stderr line (code 2) or of stdout (code 0)
    env: dict[str, str] = field(default_factory=dict)
    absent: tuple[str, ...] = ()  # must not appear anywhere in the output


def doubling(leaf: str, levels: int = 30) -> str:
    """Templates t1..tN, each using the previous one twice; leaves are ``leaf`` items."""
    lines = ["name: doubling", "input: [4]", "templates:", f"  t0: {{layers: [{leaf}]}}"]
    for i in range(1, levels + 1):
        lines.append(f"  t{i}: {{layers: [{{use: t{i - 1}}}, {{use: t{i - 1}}}]}}")
    lines.append(f"layers: [relu, {{use: t{levels}}}]")
    return "\n".join(lines) + "\n"


def chain_params(first: str, step: str, levels: int = 30) -> str:
    lines = ["name: chain", "input: [4]", "params:", f"  p0: {first}"]
    lines += [f"  p{i}: {step.format(prev=f'p{i - 1}')}" for i in range(1, levels + 1)]
    lines.append(f"layers: [{{linear: {{out_features: 2, name: \"${{'x' if len(p{levels}) else 'y'}}\"}}}}]")
    return "\n".join(lines) + "\n"


def fan_out(depth: int = 5, width: int = 40, distinct: bool = False) -> dict[str, str]:
    files = {}
    for level in range(depth):
        nxt = f"f{level + 1}.yaml"
        refs = [f"{'./' * (k + 1) if distinct else './'}{nxt}" for k in range(width)]
        files[f"f{level}.yaml"] = f"import: [{', '.join(refs)}]\ntemplates:\n  t{level}: {{layers: [relu]}}\n"
    files[f"f{depth}.yaml"] = "templates:\n  leaf: {layers: [relu]}\n"
    files["spec.yaml"] = "name: fan\ninput: [4]\nimport: [f0.yaml]\nlayers: [{use: leaf}, nosuchkind]\n"
    return files


def many_files(n: int = 300) -> dict[str, str]:
    files = {f"g{i}.yaml": f"templates:\n  t{i}: {{layers: [relu]}}\n" for i in range(n)}
    files["spec.yaml"] = f"name: many\ninput: [4]\nimport: [{', '.join(files)}]\nlayers: [relu]\n"
    return files


def alias_bomb() -> str:
    lines = ['a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "\n".join(["name: lol", "input: [4]", "params:"] + ["  " + ln for ln in lines]) + "\nlayers: [relu]\n"


def aliased_string() -> str:
    big = "x" * 400_000
    return (f"name: s\ninput: [4]\nparams:\n  s: &s \"{big}\"\n  l: [{', '.join(['*s'] * 200)}]\n"
            "layers: [relu]\n")


SPEC = "name: n\ninput: [3, 8, 8]\nparams: {groups: 1, x: 1}\nlayers:\n  - conv: {out_channels: 4, kernel_size: 3, groups: \"${groups}\"}\n"


def spec_with(value: str, key: str = "out_channels") -> str:
    return f"name: e\ninput: [3, 8, 8]\nlayers:\n  - conv: {{{key}: {value}, kernel_size: 1}}\n"


RESIDUAL_ACTS = """
name: acts
input: [4, 4, 4]
templates:
  two: {layers: [relu, {sigmoid: {name: sig}}]}
layers:
  - residual: {body: [{conv: {out_channels: 4, kernel_size: 1}}], activation: {use: two}}
  - residual: {body: [{conv: {out_channels: 4, kernel_size: 1}}], activation: {relu: {when: false}}}
  - residual: {body: [{conv: {out_channels: 4, kernel_size: 1}}], activation: [{check: {that: true}}, tanh]}
"""

CASES = [
    # -- unbounded work from small specs
    Case("doubling-check-leaves", {"spec.yaml": doubling("{check: {that: true}}")}, ["show", "spec.yaml"],
         expect=("limit 'work'", "PARAMSCOPE_MAX_WORK")),
    Case("doubling-empty-sequentials", {"spec.yaml": doubling("{sequential: {layers: []}}")},
         ["show", "spec.yaml"], expect=("limit 'work'",)),
    Case("doubling-when-false", {"spec.yaml": doubling("{relu: {when: false}}")}, ["show", "spec.yaml"],
         expect=("limit 'work'",)),
    Case("doubling-relu", {"spec.yaml": doubling("relu")}, ["summary", "spec.yaml", "-m", "none"],
         expect=("limit",)),
    Case("import-fan-out", fan_out(), ["show", "spec.yaml"], expect=("nosuchkind",)),
    Case("import-fan-out-distinct-spellings", fan_out(distinct=True), ["show", "spec.yaml"], expect=("nosuchkind",)),
    Case("import-300-files", many_files(), ["show", "spec.yaml"], expect=("limit 'files'",)),
    Case("import-chain-20-deep", {f"g{i}.yaml": f"import: [g{i + 1}.yaml]\n" for i in range(20)}
         | {"g20.yaml": "templates:\n  t: {layers: [relu]}\n", "spec.yaml": "name: d\ninput: [4]\nimport: [g0.yaml]\nlayers: [relu]\n"},
         ["show", "spec.yaml"], expect=("limit 'import depth'",)),
    Case("interpolation-doubling", {"spec.yaml": chain_params('"xxxxxxxxxx"', '"${{{prev}}}${{{prev}}}"')},
         ["show", "spec.yaml"], expect=("limit 'string/list size'",)),
    Case("nested-shared-lists", {"spec.yaml": chain_params('"${[1, 2, 3, 4, 5, 6, 7, 8]}"',
                                                           '"${{[{prev}, {prev}]}}"')},
         ["show", "spec.yaml"], expect=("limit 'string/list size'",)),
    Case("alias-billion-laughs", {"spec.yaml": alias_bomb()}, ["show", "spec.yaml"], expect=("200,000 values",)),
    Case("aliased-long-string", {"spec.yaml": aliased_string()}, ["show", "spec.yaml"],
         expect=("limit 'alias expansion'",)),
    Case("round-huge-digits", {"spec.yaml": spec_with('"${round(10**18, -10**18)}"')}, ["show", "spec.yaml"],
         expect=("limit 'round digits'",)),
    Case("round-huge-digits-float", {"spec.yaml": spec_with('"${round(1.5, 10**18)}"')}, ["show", "spec.yaml"],
         expect=("limit 'round digits'",)),
    Case("power-2-32-to-64", {"spec.yaml": spec_with('"${4294967296 ** 64}"')}, ["show", "spec.yaml"],
         expect=("limit 'number magnitude'",)),
    Case("power-tower", {"spec.yaml": spec_with('"${10**10**10}"')}, ["show", "spec.yaml"], expect=("limit 'exponent'",)),
    Case("float-overflow", {"spec.yaml": spec_with('"${1e308 * 10}"')}, ["show", "spec.yaml"],
         expect=("limit 'number magnitude'",)),
    Case("int-of-inf", {"spec.yaml": spec_with('"${int(1e308 * 1e308)}"')}, ["show", "spec.yaml"], expect=("limit",)),
    Case("complex-power", {"spec.yaml": spec_with('"${(-8) ** 0.5}"')}, ["show", "spec.yaml"], expect=("real number",)),
    Case("decimal-literal-5000-digits", {"spec.yaml": spec_with("9" * 5000)}, ["show", "spec.yaml"],
         expect=("limit 'number literal'",)),
    Case("hex-literal-5000-digits", {"spec.yaml": spec_with("0x" + "f" * 5000)}, ["show", "spec.yaml"],
         expect=("limit 'number literal'",)),
    Case("set-decimal-5000-digits", {"spec.yaml": SPEC}, ["show", "spec.yaml", "--set", "groups=" + "9" * 5000],
         expect=("limit 'number literal'",)),
    Case("set-hex-5000-digits", {"spec.yaml": SPEC}, ["show", "spec.yaml", "--set", "x=0x" + "f" * 5000],
         expect=("limit 'number literal'",)),
    Case("list-times-int", {"spec.yaml": spec_with('"${len([1] * 10**9)}"')}, ["show", "spec.yaml"],
         expect=("arithmetic on list",)),
    Case("string-times-int", {"spec.yaml": spec_with('"${len(\'a\' * 10**9)}"')}, ["show", "spec.yaml"],
         expect=("arithmetic on str",)),
    Case("expression-too-long", {"spec.yaml": spec_with('"${' + "1+" * 400 + '1}"')}, ["show", "spec.yaml"],
         expect=("limit 'expression length'",)),
    Case("repeat-a-billion", {"spec.yaml": "name: r\ninput: [4]\nlayers:\n  - repeat: {times: 1000000000, layers: [relu]}\n"},
         ["show", "spec.yaml"], expect=("limit 'layers'",)),
    Case("repeat-empty-copies", {"spec.yaml": "name: r\ninput: [4]\nlayers:\n  - relu\n  - repeat: {times: 100000, layers: []}\n"
                                               "  - repeat: {times: 100000, layers: []}\n"},
         ["show", "spec.yaml"], expect=("limit 'repeat copies'",)),
    Case("recursive-template", {"spec.yaml": "name: r\ninput: [4]\ntemplates:\n  t: {layers: [{use: t}]}\nlayers: [{use: t}]\n"},
         ["show", "spec.yaml"], expect=("nest deeper",)),
    Case("layers-limit-env", {"spec.yaml": "name: r\ninput: [4]\nlayers:\n  - repeat: {times: 50, layers: [relu]}\n"},
         ["show", "spec.yaml"], env={"PARAMSCOPE_MAX_LAYERS": "10"}, expect=("limit 'layers'", "PARAMSCOPE_MAX_LAYERS")),
    Case("work-limit-env", {}, ["show", "resnet50"], env={"PARAMSCOPE_MAX_WORK": "100"},
         expect=("limit 'work'",)),
    Case("bad-limit-env", {}, ["show", "resnet50"], env={"PARAMSCOPE_MAX_WORK": "lots"},
         expect=("PARAMSCOPE_MAX_WORK",)),
    Case("output-size-limit", {}, ["show", "resnet152"], env={"PARAMSCOPE_MAX_OUTPUT": "1000"},
         expect=("limit 'output size'",)),
    Case("yaml-deep-nesting", {"spec.yaml": "name: d\ninput: [4]\nparams: {x: " + "[" * 100 + "]" * 100 + "}\nlayers: [relu]\n"},
         ["show", "spec.yaml"], expect=("nests deeper",)),
    Case("file-over-1mb", {"spec.yaml": "name: big\n# " + "x" * 1_100_000 + "\n"}, ["show", "spec.yaml"],
         expect=("larger than",)),
    Case("input-1e27-elements", {"spec.yaml": "name: h\ninput: [1000000000, 1000000000, 1000000000]\nlayers: [relu]\n"},
         ["summary", "spec.yaml", "-m", "none"], expect=("limit 'tensor size'",)),
    Case("conv-output-1e24-elements", {"spec.yaml": spec_with("1000000000000000000")}, ["summary", "spec.yaml", "-m", "none"],
         expect=("limit 'tensor size'",)),
    Case("long-name-many-layers", {"spec.yaml": "name: n\ninput: [4]\nlayers:\n  - repeat: {times: 99999, layers: [{relu: {name: \"r${i}" + "x" * 9000 + "\"}}]}\n"},
         ["show", "spec.yaml"], expect=("limit",)),
    Case("deep-qualnames", {"spec.yaml": "name: q\ninput: [4]\ntemplates:\n  t0: {layers: [{repeat: {times: 5000, layers: [relu]}}]}\n"
                             + "".join(f"  t{i}: {{layers: [{{use: t{i - 1}, name: {'n' * 190}{i}}}, relu]}}\n" for i in range(1, 31))
                             + "layers: [{use: t30, name: top}]\n"},
         ["show", "spec.yaml"], expect=("limit",)),
    # -- code execution attempts
    Case("python-tag", {"spec.yaml": "name: p\ninput: [4]\nparams: {x: !!python/object/apply:os.system [\"touch pwned\"]}\nlayers: [relu]\n"},
         ["show", "spec.yaml"], expect=("not allowed",)),
    Case("dunder-import", {"spec.yaml": spec_with('"${__import__(\'os\').system(\'touch pwned\')}"')},
         ["show", "spec.yaml"], expect=("may be called",)),
    Case("attribute-access", {"spec.yaml": spec_with('"${().__class__}"')}, ["show", "spec.yaml"],
         expect=("not allowed",)),
    # -- not text
    Case("nul-bytes", {"spec.yaml": b"name: x\x00\n"}, ["show", "spec.yaml"], expect=("NUL",)),
    Case("not-utf8", {"spec.yaml": b"name: \xff\xfe\n"}, ["show", "spec.yaml"], expect=("UTF-8",)),
    Case("empty-file", {"spec.yaml": ""}, ["show", "spec.yaml"], expect=("empty",)),
    Case("list-document", {"spec.yaml": "- relu\n"}, ["show", "spec.yaml"], expect=("mapping",)),
    Case("lone-surrogate-name", {"spec.yaml": 'name: "a\\ud800b"\ninput: [4]\nlayers: [relu]\n'},
         ["show", "spec.yaml"], expect=("lone surrogate",)),
    Case("lone-surrogate-argv", {}, ["show", b"\xff\xfe.yaml"], expect=("does not exist",)),
    Case("lone-surrogate-set", {"spec.yaml": SPEC}, ["show", "spec.yaml", b"--set", b"x=\xff"],
         expect=("lone surrogate",)),
    # -- residual activation (used to exit 3 or be costed/built/shown differently)
    Case("residual-activations", {"spec.yaml": RESIDUAL_ACTS}, ["summary", "spec.yaml", "-m", "none", "-f", "csv"],
         code=0, expect=(",0.1,ReLU,", ",0.sig,Sigmoid,", ",2.1,Tanh,")),
    Case("residual-activation-sweep", {"spec.yaml": RESIDUAL_ACTS}, ["sweep", "spec.yaml", "--input", "4x4x4,4x8x8"],
         code=0, expect=("4×8×8",)),
    # -- --set read as YAML 1.2
    Case("set-octal-looking", {"spec.yaml": SPEC}, ["show", "spec.yaml", "--set", "x=010"], code=0,
         expect=("x=10",)),
    Case("spec-octal-looking", {"spec.yaml": SPEC.replace("x: 1", "x: 010")}, ["show", "spec.yaml"], code=0,
         expect=("x=10",)),
    Case("set-sexagesimal", {"spec.yaml": SPEC}, ["show", "spec.yaml", "--set", "groups=1:00"],
         expect=("groups",)),
    Case("set-binary", {"spec.yaml": SPEC}, ["show", "spec.yaml", "--set", "groups=0b100000"],
         expect=("groups",)),
    Case("set-repeated", {"spec.yaml": SPEC}, ["show", "spec.yaml", "--set", "x=1", "--set", "x=2"],
         expect=("given twice",)),
    Case("set-unknown", {"spec.yaml": SPEC}, ["show", "spec.yaml", "--set", "nope=1"], expect=("no such parameter",)),
    # -- option values
    Case("fvcore-budget-1e400", {}, ["summary", "resnet-stem", "-m", "none", "--fvcore-budget", "1e400"],
         expect=("--fvcore-budget",)),
    Case("fvcore-budget-words", {}, ["summary", "resnet-stem", "-m", "none", "--fvcore-budget", "lots"],
         expect=("--fvcore-budget",)),
    Case("input-zero", {}, ["summary", "resnet-stem", "-m", "none", "--input", "0"], expect=("--input",)),
    Case("input-exponent", {}, ["summary", "resnet-stem", "-m", "none", "--input", "[1e9,1e9,1e9,1e9]"],
         expect=("--input",)),
    Case("input-nine-dims", {}, ["summary", "resnet-stem", "-m", "none", "--input", "1x1x1x1x1x1x1x1x1"],
         expect=("--input",)),
    Case("batch-negative", {}, ["summary", "resnet-stem", "-m", "none", "--batch", "-1"], expect=("--batch",)),
    Case("measure-unknown", {}, ["summary", "resnet-stem", "-m", "nvprof"], expect=("--measure",)),
    Case("format-unknown", {}, ["summary", "resnet-stem", "-m", "none", "-f", "xml"], expect=("--format",)),
    # -- import confinement
    Case("import-proc", {"spec.yaml": "name: i\ninput: [4]\nimport: [/proc/self/status]\nlayers: [relu]\n"},
         ["show", "spec.yaml"], expect=("/proc/self/status", "outside"), absent=("Name:", "VmRSS")),
    Case("import-parent", {"sub/spec.yaml": "name: i\ninput: [4]\nimport: [../../../../../../etc/passwd.yaml]\nlayers: [relu]\n"},
         ["show", "sub/spec.yaml"], expect=("outside",)),
    Case("import-allowed-with-option", {"sub/spec.yaml": "name: i\ninput: [4]\nimport: [../lib/t.yaml]\nlayers: [{use: t}]\n",
                                        "lib/t.yaml": "templates:\n  t: {layers: [relu]}\n"},
         ["show", "sub/spec.yaml", "--import-path", "lib"], code=0, expect=("relu",)),
    Case("import-refused-without-option", {"sub/spec.yaml": "name: i\ninput: [4]\nimport: [../lib/t.yaml]\nlayers: [{use: t}]\n",
                                           "lib/t.yaml": "templates:\n  t: {layers: [relu]}\n"},
         ["show", "sub/spec.yaml"], expect=("--import-path",)),
    Case("import-cycle", {"a.yaml": "import: [b.yaml]\n", "b.yaml": "import: [a.yaml]\n",
                          "spec.yaml": "name: c\ninput: [4]\nimport: [a.yaml]\nlayers: [relu]\n"},
         ["show", "spec.yaml"], expect=("cycle",)),
    # -- terminal injection
    Case("escape-in-name-table", {"spec.yaml": 'name: "x\\e[31mRED\\e]0;title\\a"\ndescription: "\\x9b2J\\u202e"\ninput: [4]\nlayers: [relu]\n'},
         ["summary", "spec.yaml", "-m", "none"], code=0, expect=("\\x1b[31mRED",)),
    Case("escape-in-name-markdown", {"spec.yaml": 'name: "x\\e[31m"\ninput: [4]\nlayers: [relu]\n'},
         ["summary", "spec.yaml", "-m", "none", "-f", "markdown"], code=0, expect=("\\x1b[31m",)),
    Case("escape-in-name-show", {"spec.yaml": 'name: "x\\e[31m\\x9b"\ninput: [4]\nlayers: [relu]\n'},
         ["show", "spec.yaml"], code=0, expect=("\\u001b[31m",)),
    Case("escape-in-error", {"spec.yaml": 'name: n\ninput: [4]\nlayers: [{relu: {name: "\\e[2J"}}]\n'},
         ["show", "spec.yaml"], expect=("\\x1b[2J",)),
    Case("emoji-name-show", {"spec.yaml": 'name: "net\U0001F600"\ndescription: "caf\u00e9"\ninput: [4]\nlayers: [relu]\n'},
         ["show", "spec.yaml"], code=0, expect=('name: "net\U0001F600"', 'description: "caf\u00e9"')),
    # -- output
    Case("output-is-input", {"spec.yaml": SPEC}, ["summary", "spec.yaml", "-m", "none", "-o", "spec.yaml"],
         expect=("an input (spec",)),
    Case("output-is-directory", {"spec.yaml": SPEC, "d/keep": ""}, ["summary", "spec.yaml", "-m", "none", "-o", "d"],
         expect=("directory",)),
    Case("output-missing-dir", {"spec.yaml": SPEC}, ["summary", "spec.yaml", "-m", "none", "-o", "no/such/x.txt"],
         expect=("no such directory",)),
    Case("output-dash", {"spec.yaml": SPEC}, ["summary", "spec.yaml", "-m", "none", "-f", "csv", "-o", "-"], code=0,
         expect=("Conv2d",)),
    Case("output-254-chars", {"spec.yaml": SPEC}, ["summary", "spec.yaml", "-m", "none", "-o", "o" * 250 + ".txt"],
         code=0),
    Case("output-dev-null", {"spec.yaml": SPEC}, ["summary", "spec.yaml", "-m", "none", "-o", "/dev/null"], code=0),
    # -- scale
    Case("100k-layers-table", {"spec.yaml": "name: big\ninput: [4]\nlayers:\n  - repeat: {times: 99999, layers: [relu]}\n"},
         ["summary", "spec.yaml", "-m", "none"], code=0, expect=("99998",)),
]


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MAX_RSS, MAX_RSS))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS * 3, CPU_SECONDS * 3))


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    cpu: float
    rss: int
    before: dict
    after: dict


def _snapshot(directory: Path) -> dict:
    return {str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(directory.rglob("*")) if not p.is_symlink()}


def run_case(case: Case, directory: Path) -> Outcome:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in case.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    before = _snapshot(directory)
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", COLUMNS="120", **case.env)
    env.pop("PARAMSCOPE_DEBUG", None)
    args = [sys.executable, "-m", "paramscope", *case.args]
    proc = subprocess.Popen(args, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_limits)
    timer = threading.Timer(WALL_GUARD, proc.kill)
    timer.start()
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Outcome(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                   usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, before, _snapshot(directory))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every case, two at a time (each child's CPU time and RSS are its own)."""
    base = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {c.id: pool.submit(run_case, c, base / c.id) for c in CASES}
        return {key: f.result() for key, f in futures.items()}


def test_corpus_is_large_enough():
    assert len(CASES) + len(FACTORY_CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, outcomes):
    got = outcomes[case.id]
    assert got.code == case.code, (got.code, got.err[-2000:], got.out[:500])
    assert got.cpu < CPU_SECONDS, f"{got.cpu:.1f} s of CPU"
    assert got.rss < MAX_RSS, f"{got.rss / 1e9:.2f} GB"
    assert "Traceback" not in got.err + got.out
    assert "\x1b" not in got.err + got.out and "\x9b" not in got.err + got.out
    for text in case.absent:
        assert text not in got.err + got.out
    if case.code == 2:
        lines = got.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("paramscope: error: "), got.err[-2000:]
        assert len(lines[0]) < 1000, lines[0][:300]
        for text in case.expect:
            assert text in lines[0], lines[0]
    else:
        assert got.err == "", got.err[-2000:]
        for text in case.expect:
            assert text in got.out, got.out[-2000:]
    changed = {k for k in got.before if got.before[k] != got.after.get(k)}
    assert not changed, f"input files changed: {changed}"
    if case.code == 2:
        assert set(got.after) == set(got.before), "a failed run created files"


def test_dev_null_stays_a_device(outcomes):
    assert outcomes["output-dev-null"].code == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_long_output_name_written(outcomes, tmp_path_factory):
    got = outcomes["output-254-chars"]
    assert got.code == 0 and ("o" * 250 + ".txt") in got.after
    assert not [k for k in got.after if k.endswith(".tmp")]


# --------------------------------------------------------------------------- factories (in-process)

FACTORY_MODULE = '''
import argparse, sys, warnings, random
import torch
from torch import nn

def exits():
    sys.exit(0)

def argparse_user():
    parser = argparse.ArgumentParser(prog="train.py")
    parser.add_argument("--lr", required=True)
    return parser.parse_args()

class Unprintable(Exception):
    def __str__(self):
        raise MemoryError()

def unprintable():
    raise Unprintable()

def memory():
    raise MemoryError()

def interrupt():
    raise KeyboardInterrupt()

def noisy():
    warnings.warn("deprecated thing", DeprecationWarning)
    print("building the model...")
    print("some chatter", file=sys.stderr)
    return nn.Linear(8, 4)

def not_module():
    return 42

def rng_user():
    torch.rand(3)
    random.random()
    return nn.Linear(8, 4)

def half_linear():
    return nn.Linear(1000, 1000, bias=False).half()

def linear():
    return nn.Linear(8, 4)
'''


@dataclass
class FactoryCase:
    id: str
    args: list
    code: int
    expect: tuple[str, ...] = ()


FACTORY_CASES = [
    FactoryCase("sys-exit-0", ["check", "{f}:exits", "-o", "{tmp}/report.txt"], 2, ("sys.exit(0)",)),
    FactoryCase("argparse", ["summary", "{f}:argparse_user", "-m", "none"], 2, ("sys.exit(2)", "--lr")),
    FactoryCase("unprintable-exception", ["summary", "{f}:unprintable", "-m", "none"], 2, ("Unprintable",)),
    FactoryCase("memory-error", ["summary", "{f}:memory", "-m", "none"], 2, ("MemoryError",)),
    FactoryCase("keyboard-interrupt", ["summary", "{f}:interrupt", "-m", "none"], 130, ("interrupted",)),
    FactoryCase("not-a-module", ["summary", "{f}:not_module", "-m", "none"], 2, ("not an nn.Module",)),
    FactoryCase("huge-input", ["summary", "{f}:linear", "-m", "none", "--input", "[1000000000,1000000000,1000000000,1000000000]"],
                2, ("limit 'tensor size'",)),
    FactoryCase("input-exponent", ["summary", "{f}:linear", "-m", "none", "--input", "[1e9,1e9,1e9,1e9]"], 2, ("--input",)),
]


@pytest.fixture
def factory_file(tmp_path):
    path = tmp_path / "user_factories.py"
    path.write_text(FACTORY_MODULE)
    return path


@pytest.mark.parametrize("case", FACTORY_CASES, ids=[c.id for c in FACTORY_CASES])
def test_hostile_factory(case: FactoryCase, factory_file, tmp_path, cli):
    path_before = list(sys.path)
    result = cli(*[a.format(f=factory_file, tmp=tmp_path) for a in case.args])
    assert result.code == case.code, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    for text in case.expect:
        assert text in lines[0], lines[0]
    assert result.out == ""
    assert not (tmp_path / "report.txt").exists()
    assert sys.path == path_before


def test_factory_chatter_and_warnings_become_notes(factory_file, cli):
    import json

    result = cli("summary", f"{factory_file}:noisy", "-m", "none", "-f", "json", "--input", "1x8")
    assert result.code == 0 and result.err == ""
    notes = json.loads(result.out)["notes"]  # stdout is the report alone
    assert any("deprecated thing" in n for n in notes), notes
    assert any("stdout" in n and "building the model" in n for n in notes), notes
    assert any("stderr" in n and "some chatter" in n for n in notes), notes


def test_rng_and_sys_path_restored(factory_file):
    import random

    import torch

    import paramscope

    torch.manual_seed(0)
    random.seed(0)
    expected_torch, expected_py = torch.rand(2), random.random()
    torch.manual_seed(0)
    random.seed(0)
    path = list(sys.path)
    paramscope.analyze(f"{factory_file}:rng_user", (1, 8), measure="none")
    assert sys.path == path
    assert torch.equal(torch.rand(2), expected_torch) and random.random() == expected_py


@pytest.mark.filterwarnings("ignore:Half precision")
def test_params_memory_uses_parameter_dtype(factory_file):
    """A half-precision Linear is 2 bytes per parameter, as torch and torchinfo say."""
    import torch
    import torchinfo
    from torch import nn

    import paramscope

    report = paramscope.analyze(f"{factory_file}:half_linear", (1, 1000), measure="none")
    model = nn.Linear(1000, 1000, bias=False).half()
    truth = sum(p.numel() * p.element_size() for p in model.parameters())
    assert report.totals["param_bytes"] == truth == 2_000_000
    stats = torchinfo.summary(model, input_size=(1, 1000), dtypes=[torch.float16], device="meta", verbose=0)
    assert stats.total_param_bytes == truth


def test_sigterm_while_writing_leaves_no_temp_file(tmp_path, cli, monkeypatch):
    from paramscope.cli.main import Terminated
    from paramscope.render import export

    target = tmp_path / "report.csv"
    target.write_text("previous\n")

    def terminated(fd):
        raise Terminated()

    monkeypatch.setattr(export.os, "fsync", terminated)
    result = cli("summary", "resnet-stem", "-m", "none", "-f", "csv", "-o", str(target))
    assert result.code == 143 and result.err.strip() == "paramscope: terminated"
    assert target.read_text() == "previous\n" and sorted(os.listdir(tmp_path)) == ["report.csv"]


def test_sigterm_signal_exits_143(tmp_path):
    """A real SIGTERM mid-run: exit 143, one line, no temp file."""
    import signal

    spec = tmp_path / "spec.yaml"
    spec.write_text("name: big\ninput: [4]\nlayers:\n  - repeat: {times: 99999, layers: [relu]}\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "paramscope", "summary", str(spec), "-m", "none",
                             "-o", str(tmp_path / "out.txt")], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("finished before the signal arrived")
    assert proc.returncode == 143, err
    assert err.decode().strip() == "paramscope: terminated"
    assert sorted(os.listdir(tmp_path)) == ["spec.yaml"]


def test_output_fifo_written_through(tmp_path, cli):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    result = cli("summary", "resnet-stem", "-m", "none", "-f", "csv", "-o", str(fifo))
    reader.join(timeout=30)
    assert result.code == 0, result.err
    assert "Conv2d" in got[0]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_symlink_keeps_the_link(tmp_path, cli):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    result = cli("summary", "resnet-stem", "-m", "none", "-f", "csv", "-o", str(link))
    assert result.code == 0, result.err
    assert link.is_symlink() and "Conv2d" in real.read_text()


# --------------------------------------------------------------------------- the user's model

def test_user_hooks_do_not_run_and_are_noted():
    """A feature-extraction hook must not fire (it would store a meta tensor in the model)."""
    import torch
    from torch import nn

    import paramscope

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    model.activations = {}
    calls = []

    def grab(module, args, output):
        calls.append(module)
        model.activations["conv"] = output

    model[0].register_forward_hook(grab)
    model[1].register_forward_pre_hook(lambda m, a: calls.append(m))
    report = paramscope.analyze(model, (1, 3, 8, 8))
    assert calls == [] and model.activations == {}
    assert any("2 hook(s)" in n and "not run" in n for n in report.notes), report.notes
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())
    assert len(model[0]._forward_hooks) == 1  # the user's hooks are still registered
    model(torch.zeros(1, 3, 8, 8))
    assert len(calls) == 2 and model.activations["conv"].device.type == "cpu"


def test_model_that_cannot_be_copied_is_an_error_and_is_not_run():
    import threading

    from torch import nn

    import paramscope

    class Locked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2).to("meta")
            self.lock = threading.Lock()  # cannot be deep-copied
            self.forwards = 0

        def forward(self, x):
            self.forwards += 1
            return self.fc(x)

    model = Locked()
    with pytest.raises(ParamscopeError, match="copying it failed.*lock"):
        paramscope.analyze(model, (1, 4), measure="none")
    assert model.forwards == 0


def test_show_output_of_an_emoji_name_reads_back(tmp_path, cli):
    spec = tmp_path / "spec.yaml"
    spec.write_text('name: "net\U0001F600"\ndescription: "x\\x9b\\u202e"\ninput: [4]\nlayers: [relu]\n',
                    encoding="utf-8")
    first = cli("show", str(spec))
    assert first.code == 0, first.err
    shown = tmp_path / "shown.yaml"
    shown.write_text(first.out, encoding="utf-8")
    second = cli("show", str(shown))
    assert second.code == 0, second.err
    assert second.out.splitlines()[2:] == first.out.splitlines()[2:]
    assert "\x9b" not in first.out and "\u202e" not in first.out


def test_output_never_replaces_the_factory_file(factory_file, cli):
    before = factory_file.read_text()
    result = cli("summary", f"{factory_file}:linear", "-m", "none", "--input", "1x8", "-o", str(factory_file))
    assert result.code == 2 and "an input (spec" in result.err, result.err
    assert factory_file.read_text() == before


def test_global_module_hooks_do_not_run_and_are_restored():
    import torch
    from torch import nn

    import paramscope

    calls = []
    handle = torch.nn.modules.module.register_module_forward_hook(lambda m, a, o: calls.append(m))
    try:
        report = paramscope.analyze(nn.Linear(4, 2), (1, 4))
        assert calls == []
        assert any("global module hook" in n for n in report.notes), report.notes
        nn.Linear(4, 2)(torch.zeros(1, 4))
        assert len(calls) == 1  # still registered afterwards
    finally:
        handle.remove()


def test_atomic_writer_never_replaces_a_special_file(tmp_path):
    """--plot (and any other atomic write) refuses a FIFO instead of replacing it."""
    from paramscope.render.export import write_atomic

    fifo = tmp_path / "plot.png"
    os.mkfifo(fifo)
    with pytest.raises(ParamscopeError, match="not a regular file"):
        write_atomic(fifo, b"png", option="--plot")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["plot.png"]
