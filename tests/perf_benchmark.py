"""Benchmark: the time measurer's per-layer timers against a bare forward pass.

``python tests/perf_benchmark.py [TARGET ...] [--threads N] [--repeats N]`` (default
resnet50, cifar-resnet, vgg-stem; 1 thread, 15 repeats) prints a Markdown table: the bare
pass (no hooks), the timed pass (hooks and functional-op timers on every layer call), the
overhead between their medians (goal: under 10%) and the share of each timed pass that the
per-layer times account for.  Bare and timed passes alternate, so a busy machine slows both.
"""

from __future__ import annotations

import argparse
import sys


def run(targets: list[str], threads: int, repeats: int, warmup: int = 3, clock: str = "wall") -> list[dict]:
    from paramscope.analysis import subject_for
    from paramscope.measure.timing import time_model

    rows = []
    for target in targets:
        subject = subject_for(target)
        t = time_model(subject.meta_model(), subject.graph.input_shape, warmup=warmup, repeats=repeats,
                       threads=threads, budget_bytes=2 ** 63, clock=clock,
                       owners={n.name for n in subject.graph if n.is_functional})
        cov = t.coverage
        rows.append({"target": target, "layers": len(t.layers), "bare": t.total, "timed": t.hooked_total,
                     "overhead": t.overhead, "coverage": cov})
    return rows


def table(rows: list[dict], threads: int, repeats: int, clock: str = "wall") -> str:
    def ms(stat):
        return f"{stat.median * 1e3:.2f} ms ({stat.low * 1e3:.2f}..{stat.high * 1e3:.2f})"

    out = [f"time measurer overhead, {threads} thread(s), {clock} clock, median of {repeats} passes (min..max)", "",
           "| target | layer calls | bare forward | timed forward | overhead | layers' share of a timed pass |",
           "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r["coverage"]
        out.append(f"| {r['target']} | {r['layers']} | {ms(r['bare'])} | {ms(r['timed'])} | "
                   f"{100 * r['overhead']:+.1f}% | {100 * c.median:.1f}% ({100 * c.low:.0f}..{100 * c.high:.0f}%) |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/perf_benchmark.py", description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", default=["resnet50", "cifar-resnet", "vgg-stem"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args(argv)
    print(table(run(args.targets, args.threads, args.repeats, clock=args.clock), args.threads, args.repeats,
                args.clock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
