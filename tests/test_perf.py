"""Roofline bytes / intensity by hand, device specs, and the opt-in time measurer."""

from __future__ import annotations

import json

import pytest

import paramscope
from paramscope.analysis import DEFAULT_MEASURERS, parse_measure, subject_for
from paramscope.errors import ParamscopeError
from paramscope.perf import PerfOptions
from paramscope.perf.roofline import DEVICE_SPECS, device_spec


def test_conv_dense_bytes_and_intensity_by_hand():
    report = paramscope.analyze("conv-dense", measure="none", perf=PerfOptions(device_spec="a100"))
    row = report.layers[0].perf
    # Conv2d(64, 128, 3) on 1×64×56×56: weights 64·128·9 + 128, input 64·56·56, output 128·54·54, float32
    elements = 64 * 128 * 9 + 128 + 64 * 56 * 56 + 128 * 54 * 54
    assert row["bytes"] == elements * 4 == 2_591_232
    flops = 2 * 54 * 54 * 128 * 64 * 9 + 128 * 54 * 54  # 2 per MAC + one bias add per output
    assert row["intensity"] == pytest.approx(flops / (elements * 4))
    # A100: 19.5 TFLOP/s and 2,039 GB/s -> compute time 22.07 µs > memory time 1.27 µs
    assert row["roofline_time"] == pytest.approx(flops / 19.5e12)
    assert row["bound"] == "compute"


def test_grouped_conv_is_memory_bound_on_a100():
    report = paramscope.analyze("conv-grouped", measure="none", perf=PerfOptions(device_spec="a100"))
    row = report.layers[0].perf
    elements = 64 // 32 * 128 * 9 + 128 + 64 * 56 * 56 + 128 * 54 * 54
    assert row["bytes"] == elements * 4
    assert row["bound"] == "memory"
    assert row["roofline_time"] == pytest.approx(elements * 4 / 2039e9)


def test_residual_add_reads_both_inputs_in_bytes():
    report = paramscope.analyze("bottleneck", measure="none", perf=PerfOptions())
    add = next(r for r in report.layers if r.node.kind == "add")
    n = 1
    for d in add.node.out_shape:
        n *= d
    assert add.perf["bytes"] == 3 * n * 4  # two inputs, one output


def test_device_specs_are_one_table_and_parse():
    assert set(DEVICE_SPECS) == {"a100", "h100", "h200"}
    assert DEVICE_SPECS["h200"].bandwidth == 4.8e12
    custom = device_spec("19.5,1555")
    assert custom.peak_for("float32") == 19.5e12 and custom.bandwidth == 1555e9
    with pytest.raises(ParamscopeError, match="--device-spec"):
        device_spec("a1000")


def test_bad_device_spec_is_one_line_exit_2(cli):
    code, out, err = cli("summary", "conv-dense", "--measure", "none", "--device-spec", "fast")
    assert code == 2 and len(err.splitlines()) == 1 and "--device-spec" in err


def test_cpu_spec_is_calibrated_once_and_cached(tmp_path, monkeypatch):
    from paramscope.perf import roofline

    calls = []
    monkeypatch.setenv("PARAMSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(roofline, "calibrate_cpu", lambda dtype: calls.append(dtype) or
                        {"peak": 1e11, "bandwidth": 1e10, "when": "now"})
    first, second = device_spec("cpu"), device_spec("cpu")
    assert calls == ["float32"]
    assert first.peak_for("float32") == second.peak_for("float32") == 1e11
    assert (tmp_path / "cpu-roofline.json").exists()


def test_time_is_opt_in_never_all():
    assert "time" not in parse_measure("all") and parse_measure("all") == DEFAULT_MEASURERS
    assert parse_measure("time") == ("time",)
    report = paramscope.analyze("conv-grouped", measure="all")
    assert "time" not in report.measurers and not report.perf


def _timed(name, **options):
    """One thread and the process's CPU time: other engineers' jobs share this machine's cores."""
    return paramscope.analyze(name, measure="time", perf=PerfOptions(threads=1, warmup=2, repeats=9, clock="cpu",
                                                                     device_spec="1,1", **options))


def test_per_layer_times_cover_the_whole_model_time():
    report = _timed("cifar-resnet")
    t = report.perf["time"]
    assert t["status"] == "ok" and t["threads"] == 1 and t["device"] == "cpu" and t["clock"] == "cpu"
    assert 0 < t["layer_coverage"]["min"] <= t["layer_coverage"]["median"] <= t["layer_coverage"]["max"] <= 1.0
    # whether the per-layer medians add up to the whole-model median within 15% is measured on
    # each run (a shared machine decides it; see perf_benchmark) and said in a note when not
    off = abs(t["layer_sum_s"] / t["total"]["median_s"] - 1) > 0.15
    assert off == any(n.startswith("time: the per-layer medians sum to") for n in report.notes)
    rows = [r for r in report.layers if "time" in r.perf]
    assert len(rows) == len(report.layers)  # every layer call, functional adds included
    for r in rows:
        assert r.perf["time"]["min_s"] <= r.perf["time"]["median_s"] <= r.perf["time"]["max_s"]
    assert t["layer_sum_s"] == pytest.approx(sum(r.perf["time"]["median_s"] for r in rows))
    conv = next(r for r in rows if r.node.kind == "Conv2d")
    assert conv.perf["achieved_flops_per_s"] == pytest.approx(conv.cost.flops / conv.perf["time"]["median_s"])
    assert report.to_dict()["totals"]["time"]["median_s"] == t["total"]["median_s"]


def test_repeated_runs_agree_within_the_reported_spread():
    a, b = (_timed("conv-dense").perf["time"]["total"] for _ in range(2))
    spread = max(a["max_s"] - a["min_s"], b["max_s"] - b["min_s"])
    assert abs(a["median_s"] - b["median_s"]) <= spread


def test_memory_budget_skips_with_a_note():
    report = paramscope.analyze("conv-dense", measure="time", perf=PerfOptions(budget_bytes=1000))
    assert report.perf["time"]["status"] == "skipped"
    assert any("--time-budget" in n for n in report.notes)
    assert "time" not in report.layers[0].perf


def test_profile_command_json_fields(cli):
    code, out, err = cli("profile", "conv-grouped", "--repeats", "3", "--warmup", "1", "--threads", "1",
                         "--device-spec", "a100", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    layer = data["layers"][0]
    for key in ("time", "achieved_flops_per_s", "bytes", "intensity", "bound", "receptive_field", "roofline_time"):
        assert key in layer, key
    for key in ("time", "achieved_flops_per_s", "bytes", "intensity", "bound", "receptive_field", "roofline_time"):
        assert key in data["totals"], key
    assert data["perf"]["time"]["threads"] == 1


def test_profile_rejects_bad_repeats(cli):
    code, _, err = cli("profile", "conv-dense", "--repeats", "0")
    assert code == 2 and len(err.splitlines()) == 1


def test_compare_dense_grouped_prints_mac_and_speed_ratio(cli):
    code, out, err = cli("compare", "conv-dense", "conv-grouped", "--measure", "time", "--device-spec", "a100",
                         "--no-layers")
    assert code == 0, err
    assert "MAC ratio" in out and "32.00×" in out and "speed ratio" in out
    why = next(line for line in out.splitlines() if line.startswith("why:"))
    assert "32.0× fewer MACs" in why
    assert "memory-bound" in out.replace("\n", " ")


def test_subject_graph_keys_are_timed_for_factories():
    from torch_models import TinyResNet  # noqa: F401  (a factory with functional residual adds)

    report = paramscope.analyze(TinyResNet(), (1, 3, 32, 32), measure="time",
                                perf=PerfOptions(threads=1, warmup=1, repeats=2))
    assert all("time" in r.perf for r in report.layers)
    assert subject_for  # imported for factories elsewhere


def test_explain_shows_the_bytes_and_roofline_arithmetic(cli):
    code, out, err = cli("explain", "conv-dense", "--device-spec", "a100", "--rf")
    assert code == 0, err
    text = " ".join(out.split())
    assert "bytes = (weight 73,856 + input 1×64×56×56 + output 1×128×54×54) × 4 B = 2,591,232" in text
    assert "intensity = 430,354,944 FLOPs / 2,591,232 B = 166.08 FLOP/B" in text
    assert "(compute-bound)" in text and "axis 0: size 3, jump 1, start 0" in text
