"""What paramscope costs next to the tools it reconciles: ``python tests/benchmark.py``.

Not a test (no asserts); it prints a Markdown table measured in one run:

(a) startup: ``paramscope --help / list / show / schema / summary --measure none`` against
    ``python -c "import torch"`` (target: at most 0.3× the import);
(b) a full ``summary resnet152 --input 1024 --batch 4`` (formulas and the default
    measurers) against a bare torchinfo summary of resnet152 on the same input (target:
    at most 0.2× its wall time, peak RSS at most 2.5 GB), and fvcore on a few input sizes;
(c) a 100,000→100,000-channel Conv2d (9×10¹⁰ parameters) analysed from a YAML spec and as
    an nn.Module on the meta device (target: seconds, nothing allocated).

Every run is a subprocess under a memory limit (``RLIMIT_AS``) and a timeout, so a tool
that runs out of memory is reported as such instead of taking the machine down.  Peak RSS
is the child's own ``ru_maxrss`` (``os.wait4``).  ``--quick`` runs a fast subset.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

GB = 1024**3
ROOT = Path(__file__).resolve().parent.parent
CHANNELS = 100_000
STARTUP_TARGET = 0.3
SUMMARY_WALL_TARGET = 0.2
SUMMARY_RSS_TARGET = 2.5 * GB


@dataclass
class Run:
    """One subprocess: how long it took, how much memory it held, how it ended."""

    wall: float
    rss: int  # bytes, peak resident set
    code: int | None
    status: str  # "ok" | "failed" | "out of memory" | "timeout" | "killed"
    out: str = ""
    err: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def last_error(self) -> str:
        lines = [line for line in self.err.strip().splitlines() if line.strip()]
        return lines[-1][:160] if lines else f"exit {self.code}"


def run(argv: list[str], *, mem_limit: int, timeout: float, env: dict | None = None) -> Run:
    """Run ``argv`` under an address-space limit and a timeout; wall time and peak RSS."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        import subprocess

        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT,
                                env=env, preexec_fn=limit, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    if timed_out:
        state = "timeout"
    elif code == 0:
        state = "ok"
    elif _out_of_memory(stderr):
        state = "out of memory"
    elif code < 0:
        state = "killed"
    else:
        state = "failed"
    return Run(wall, rss, code, state, stdout, stderr)


def _out_of_memory(stderr: str) -> bool:
    text = stderr.lower()
    return any(s in text for s in ("memoryerror", "out of memory", "can't allocate memory",
                                   "cannot allocate memory", "bad_alloc", "not enough memory"))


def median_run(argv: list[str], repeat: int, **kw) -> Run:
    return _median([run(argv, **kw) for _ in range(repeat)])


def _median(runs: list[Run]) -> Run:
    failed = [r for r in runs if not r.ok]
    if failed:
        return failed[0]
    best = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]
    return Run(statistics.median(r.wall for r in runs), max(r.rss for r in runs), best.code, "ok",
               best.out, best.err)


# ----------------------------------------------------------------------------- scripts

#: the resnet152 every baseline script measures: torchvision's when installed
_RESNET152 = """
try:
    import torchvision
    model, source = torchvision.models.resnet152(), "torchvision"
except ImportError:
    import paramscope
    model, source = paramscope.build("resnet152"), "paramscope (CPU)"
model.eval()
"""


def _torchinfo_script(shape: tuple[int, ...]) -> str:
    return f"""
import torch, torchinfo
{_RESNET152}
stats = torchinfo.summary(model, input_size={shape!r}, verbose=0, device="cpu")
print(source, stats.total_params, stats.total_mult_adds)
"""


def _fvcore_script(shape: tuple[int, ...]) -> str:
    return f"""
import torch
from fvcore.nn import FlopCountAnalysis
{_RESNET152}
analysis = FlopCountAnalysis(model, torch.zeros({shape!r}))  # as its README runs it: autograd on
analysis.unsupported_ops_warnings(False)
analysis.uncalled_modules_warnings(False)
print(source, analysis.total())
"""


_META_CONV_SCRIPT = f"""
import json, time
t0 = time.perf_counter()
import torch
from paramscope.analysis import analyze
t1 = time.perf_counter()
with torch.device("meta"):
    model = torch.nn.Conv2d({CHANNELS}, {CHANNELS}, 3, padding=1)
report = analyze(model, (1, {CHANNELS}, 8, 8), measure="none")
t2 = time.perf_counter()
print(json.dumps({{"params": report.totals["params"], "macs": report.totals["macs"],
                  "import": t1 - t0, "analysis": t2 - t1}}))
"""


# ----------------------------------------------------------------------------- the table

@dataclass
class Row:
    section: str
    what: str
    run: Run | None
    versus: str = ""
    target: str = ""
    verdict: str = ""
    note: str = ""


@dataclass
class Bench:
    python: str
    mem_limit: int
    timeout: float
    rows: list[Row] = field(default_factory=list)

    def cmd(self, *args: str) -> list[str]:
        return [self.python, "-m", "paramscope", *args]

    def go(self, argv: list[str], repeat: int = 1, mem_limit: int | None = None, timeout: float | None = None,
           env: dict | None = None) -> Run:
        return median_run(argv, repeat, mem_limit=mem_limit or self.mem_limit,
                          timeout=timeout or self.timeout, env=env)

    def add(self, *args, **kw) -> Row:
        row = Row(*args, **kw)
        self.rows.append(row)
        print(f"  {row.section} {row.what}: {_wall(row.run)} {_rss(row.run)} {row.verdict}".rstrip(),
              file=sys.stderr, flush=True)
        return row


def _wall(r: Run | None) -> str:
    if r is None:
        return "--"
    if r.status == "timeout":
        return f"timeout (>{r.wall:.0f} s)"
    if not r.ok:
        return f"{r.status} after {r.wall:.2f} s"
    return f"{r.wall:.2f} s"


def _rss(r: Run | None) -> str:
    if r is None or not r.rss:
        return "--"
    return f"{r.rss / GB:.2f} GB" if r.rss >= 0.1 * GB else f"{r.rss / 1024**2:.0f} MB"


def _pass(ok: bool) -> str:
    return "pass" if ok else "MISS"


def markdown(bench: Bench) -> str:
    lines = ["| part | run | wall | peak RSS | vs baseline | target | result | note |",
             "|---|---|---:|---:|---:|---|---|---|"]
    for row in bench.rows:
        cells = [row.section, row.what, _wall(row.run), _rss(row.run), row.versus, row.target, row.verdict,
                 row.note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- sections

def startup(bench: Bench, repeat: int) -> None:
    """Each command and the torch import, interleaved ``repeat`` times (medians)."""
    commands = [("--help",), ("list",), ("show", "resnet50"), ("schema",), ("summary", "resnet50", "--measure", "none")]
    argvs = [[bench.python, "-c", "import torch"]] + [bench.cmd(*args) for args in commands]
    runs: list[list[Run]] = [[] for _ in argvs]
    for _ in range(repeat):  # interleaved, so background load hits every command alike
        for i, argv in enumerate(argvs):
            runs[i].append(run(argv, mem_limit=bench.mem_limit, timeout=bench.timeout))
    torch_run, *results = [_median(rs) for rs in runs]
    bench.add("a", '`python -c "import torch"`', torch_run, "1.00×", "baseline")
    for args, r in zip(commands, results):
        ratio = r.wall / torch_run.wall if r.ok and torch_run.ok else None
        bench.add("a", f"`paramscope {' '.join(args)}`", r, "--" if ratio is None else f"{ratio:.2f}×",
                  f"≤ {STARTUP_TARGET}×", _pass(ratio is not None and ratio <= STARTUP_TARGET) if r.ok else r.status,
                  "" if r.ok else r.last_error())


def full_summary(bench: Bench, quick: bool) -> None:
    size, batch = (224, 1) if quick else (1024, 4)
    shape = (batch, 3, size, size)
    base = bench.go([bench.python, "-c", _torchinfo_script(shape)])
    source = base.out.split()[0] if base.ok and base.out.strip() else ""
    bench.add("b", f"bare torchinfo summary, resnet152, {batch}×3×{size}²", base, "1.00×", "baseline",
              base.status if not base.ok else "", f"model from {source}" if base.ok else base.last_error())
    r = bench.go(bench.cmd("summary", "resnet152", "--input", str(size), "--batch", str(batch)))
    ratio = r.wall / base.wall if r.ok and base.ok else None
    ok = ratio is not None and ratio <= SUMMARY_WALL_TARGET and r.rss <= SUMMARY_RSS_TARGET
    verdict = r.status if not r.ok else ("n/a at 224² (--quick)" if quick else _pass(ok))
    bench.add("b", f"`paramscope summary resnet152 --input {size} --batch {batch}` (formulas + default measurers)",
              r, "--" if ratio is None else f"{ratio:.2f}×", f"≤ {SUMMARY_WALL_TARGET}× wall, ≤ 2.5 GB",
              verdict, "" if r.ok else r.last_error())
    r = bench.go(bench.cmd("summary", "resnet152", "--input", str(size), "--batch", str(batch), "--measure", "none"))
    ratio = r.wall / base.wall if r.ok and base.ok else None
    bench.add("b", f"`paramscope summary resnet152 --input {size} --batch {batch} --measure none`", r,
              "--" if ratio is None else f"{ratio:.3f}×", "", "" if r.ok else r.status,
              "" if r.ok else r.last_error())
    sizes = [(1, 224)] if quick else [(1, 224), (1, 512), (1, 1024), (4, 1024)]
    for n, s in sizes:
        f = bench.go([bench.python, "-c", _fvcore_script((n, 3, s, s))])
        ratio = f.wall / base.wall if f.ok and base.ok else None
        bench.add("b", f"fvcore FlopCountAnalysis, resnet152, {n}×3×{s}²", f,
                  "--" if ratio is None else f"{ratio:.2f}×", "", "" if f.ok else f.status,
                  f"total {int(float(f.out.split()[-1])):,}" if f.ok and f.out.split() else
                  ("" if f.ok else f.last_error()))


def huge_conv(bench: Bench, tmp: Path) -> None:
    spec = tmp / "conv100k.yaml"
    spec.write_text(f"name: conv100k\ndescription: {CHANNELS:,} -> {CHANNELS:,} channels, 3x3\n"
                    f"input: [{CHANNELS}, 8, 8]\nlayers:\n"
                    f"  - conv: {{out_channels: {CHANNELS}, kernel_size: 3, padding: 1}}\n")
    small_limit = 4 * GB  # a real 9e10-parameter tensor would need 360 GB: this limit proves none is made
    r = bench.go(bench.cmd("summary", str(spec), "--measure", "none", "--format", "json"), mem_limit=small_limit)
    note = r.last_error() if not r.ok else ""
    if r.ok:
        totals = json.loads(r.out)["totals"]
        note = f"params {totals['params']:,}, MACs {totals['macs']:,}"
    bench.add("c", "100k→100k Conv2d from a YAML spec, `summary --measure none`", r, "", "seconds, no allocation",
              _pass(r.ok and r.wall < 10) if r.ok else r.status, note)
    r = bench.go([bench.python, "-c", _META_CONV_SCRIPT], mem_limit=small_limit)
    note = r.last_error() if not r.ok else ""
    if r.ok:
        data = json.loads(r.out.strip().splitlines()[-1])
        note = (f"params {data['params']:,}; build + trace + formulas {data['analysis']:.2f} s "
                f"(import torch {data['import']:.2f} s)")
    bench.add("c", "100k→100k nn.Conv2d on the meta device, `analyze(..., measure=\"none\")`", r, "",
              "seconds, no allocation", _pass(r.ok and r.wall < 30) if r.ok else r.status, note)
    r = bench.go(bench.cmd("summary", str(spec), "--measure", "flop_counter,torchinfo", "--format", "json"),
                 mem_limit=small_limit)
    note = r.last_error() if not r.ok else ""
    if r.ok:
        measurers = json.loads(r.out).get("measurers", {})
        note = ", ".join(f"{k}: {v.get('status')}" for k, v in measurers.items())
    bench.add("c", "100k→100k Conv2d spec, FlopCounterMode + torchinfo on meta", r, "", "seconds, no allocation",
              _pass(r.ok and r.wall < 30) if r.ok else r.status, note)


def default_mem_limit() -> int:
    try:
        with open("/proc/meminfo") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
        return int(min(16 * GB, 0.7 * info.get("MemAvailable", info["MemTotal"])))
    except (OSError, KeyError, ValueError):
        return 8 * GB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/benchmark.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast subset: 224² inputs, one fvcore size, "
                                                             "one repetition of each startup command")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions of each startup command (median)")
    parser.add_argument("--mem-limit", type=float, default=None, help="GB of address space per subprocess")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per subprocess")
    parser.add_argument("--python", default=sys.executable, help="interpreter to benchmark")
    parser.add_argument("--only", choices=("a", "b", "c"), action="append", help="run only these parts")
    args = parser.parse_args(argv)
    mem_limit = int(args.mem_limit * GB) if args.mem_limit else default_mem_limit()
    bench = Bench(args.python, mem_limit, args.timeout)
    parts = args.only or ["a", "b", "c"]
    repeat = args.repeat or (1 if args.quick else 3)
    print(f"paramscope benchmark: {args.python}, memory limit {mem_limit / GB:.1f} GB per run, "
          f"timeout {args.timeout:.0f} s{', quick' if args.quick else ''}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="paramscope-bench-") as tmp:
        if "a" in parts:
            startup(bench, repeat)
        if "b" in parts:
            full_summary(bench, args.quick)
        if "c" in parts:
            huge_conv(bench, Path(tmp))
    print(markdown(bench))
    print(f"\n{os.cpu_count()} CPUs; python {sys.version.split()[0]}; memory limit per run "
          f"{mem_limit / GB:.1f} GB (RLIMIT_AS); wall = median of {repeat} for part (a), one run otherwise.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
