"""The roofline: bytes a layer must move, its arithmetic intensity, and its time bound.

Per layer call, by formula (no measurement): ``bytes = (weights + inputs + output) ×
element size`` — every parameter the layer owns is read once per call, every input tensor
read once and the output written once; ``intensity = FLOPs / bytes``.  Given a device's
peak arithmetic rate P (FLOP/s, at the dtype) and memory bandwidth B (bytes/s), the layer
needs at least ``max(FLOPs / P, bytes / B)``: *compute-bound* when the first term is the
larger, *memory-bound* otherwise (intensity below the ridge point P / B).

Device figures are data in :data:`DEVICE_SPECS` (vendor datasheets, dense, no sparsity);
``cpu`` is measured on this machine once (a matrix product and a large copy) and cached
under the user cache directory; ``PEAK_TFLOPS,GBPS`` gives any device.
No torch import except for the ``cpu`` calibration.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from math import prod
from typing import Any

from paramscope.errors import ParamscopeError
from paramscope.graph import LayerNode, dtype_bytes


@dataclass(frozen=True)
class DeviceSpec:
    """Peak dense FLOP/s per dtype and memory bandwidth in bytes/s."""

    name: str
    peak: dict  # dtype -> FLOP/s
    bandwidth: float  # bytes/s
    source: str

    def peak_for(self, dtype: str) -> float:
        return self.peak.get(dtype, self.peak.get("float32"))

    def to_dict(self, dtype: str) -> dict[str, Any]:
        return {"name": self.name, "peak_flops_per_s": self.peak_for(dtype),
                "bandwidth_bytes_per_s": self.bandwidth, "ridge_flops_per_byte": self.ridge(dtype),
                "source": self.source}

    def ridge(self, dtype: str) -> float:
        return self.peak_for(dtype) / self.bandwidth


_T = 1e12
#: The one table of device figures (dense peaks, no structured sparsity; float32 is plain
#: FP32, not TF32; float64 uses the FP64 tensor-core rate).
DEVICE_SPECS: dict[str, DeviceSpec] = {
    "a100": DeviceSpec("NVIDIA A100 SXM4 80GB",
                       {"float64": 19.5 * _T, "float32": 19.5 * _T, "float16": 312 * _T, "bfloat16": 312 * _T},
                       2039e9, "NVIDIA A100 datasheet: FP32 19.5 TF, FP16/BF16 tensor 312 TF, HBM2e 2,039 GB/s"),
    "h100": DeviceSpec("NVIDIA H100 SXM5 80GB",
                       {"float64": 67 * _T, "float32": 67 * _T, "float16": 989.4 * _T, "bfloat16": 989.4 * _T},
                       3350e9, "NVIDIA H100 datasheet: FP32 67 TF, FP16/BF16 tensor 989.4 TF, HBM3 3.35 TB/s"),
    "h200": DeviceSpec("NVIDIA H200 SXM 141GB",
                       {"float64": 67 * _T, "float32": 67 * _T, "float16": 989.4 * _T, "bfloat16": 989.4 * _T},
                       4800e9, "NVIDIA H200 datasheet: FP32 67 TF, FP16/BF16 tensor 989.4 TF, HBM3e 4.8 TB/s"),
}
DEVICE_NAMES = (*DEVICE_SPECS, "cpu", "PEAK_TFLOPS,GBPS")


def device_spec(text: str, dtype: str = "float32") -> DeviceSpec:
    """``a100`` / ``h100`` / ``h200`` / ``cpu`` (calibrated, cached) / ``19.5,1555``."""
    key = text.strip().lower()
    if key in DEVICE_SPECS:
        return DEVICE_SPECS[key]
    if key == "cpu":
        return cpu_spec(dtype)
    parts = key.split(",")
    try:
        tflops, gbps = (float(p) for p in parts)
        if not (tflops > 0 and gbps > 0):
            raise ValueError
    except ValueError:
        raise ParamscopeError(f"--device-spec expects one of {', '.join(DEVICE_SPECS)}, cpu, or "
                              f"PEAK_TFLOPS,GBPS such as 19.5,1555; got {text!r}") from None
    return DeviceSpec(f"{tflops:g} TFLOP/s, {gbps:g} GB/s", {dtype: tflops * _T}, gbps * 1e9, "given")


def cache_dir() -> str:
    """``$PARAMSCOPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/paramscope``, else ``~/.cache/paramscope``."""
    if os.environ.get("PARAMSCOPE_CACHE_DIR"):
        return os.environ["PARAMSCOPE_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "paramscope")


def cpu_spec(dtype: str = "float32") -> DeviceSpec:
    """This CPU's measured matmul rate and copy bandwidth (at the current thread count),
    calibrated once per machine, dtype, thread count and torch version and cached."""
    import platform

    import torch

    key = f"v2|{platform.machine()}|{_cpu_model()}|{os.cpu_count()}cpus|{torch.get_num_threads()}threads|" \
          f"torch{torch.__version__}|{dtype}"
    path = os.path.join(cache_dir(), "cpu-roofline.json")
    try:
        with open(path, encoding="utf-8") as f:
            cached = json.load(f)
    except (OSError, ValueError):
        cached = {}
    if not isinstance(cached, dict):
        cached = {}
    entry = cached.get(key)
    if not (isinstance(entry, dict) and entry.get("peak", 0) > 0 and entry.get("bandwidth", 0) > 0):
        entry = calibrate_cpu(dtype)
        cached[key] = entry
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(cached, f, indent=1)
            os.replace(tmp, path)
        except OSError:
            pass  # not cached: calibrated again next time
    n = torch.get_num_threads()
    return DeviceSpec(f"this CPU ({n} thread{'s' if n > 1 else ''}, measured)", {dtype: entry["peak"]},
                      entry["bandwidth"], f"calibrated {entry.get('when', '')}, cached in {path}")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "cpu"


def calibrate_cpu(dtype: str = "float32", repeats: int = 20) -> dict[str, Any]:
    """Best-of-``repeats`` rate of a 1024³ matrix product (2·n³ FLOPs) and of copying a
    64 MiB tensor (read + write: 2 × 64 MiB), each timed by this process's CPU time divided
    by the thread count (so other processes sharing the cores do not lower the figures)."""
    import time

    import torch

    from paramscope.tracing.trace import torch_dtype

    threads = torch.get_num_threads()

    def best_of(fn) -> float:
        best = float("inf")
        for _ in range(repeats + 1):
            start = time.process_time()
            fn()
            best = min(best, (time.process_time() - start) / threads)
        return max(best, 1e-9)

    t = torch_dtype(dtype)
    n = 1024
    a, b = torch.rand(n, n).to(t), torch.rand(n, n).to(t)
    peak = 2 * n ** 3 / best_of(lambda: torch.mm(a, b))
    src = torch.rand(16 * 2 ** 20)  # 64 MiB of float32
    dst = torch.empty_like(src)
    bandwidth = 2 * src.numel() * 4 / best_of(lambda: dst.copy_(src))
    return {"peak": peak, "bandwidth": bandwidth, "method": "cpu-time/threads, best of %d" % (repeats + 1),
            "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}


@dataclass(frozen=True)
class Traffic:
    """The bytes one layer call moves, with the arithmetic."""

    weight: int  # elements
    inputs: tuple  # shapes
    output: tuple
    element: int  # bytes per element

    @property
    def elements(self) -> int:
        return self.weight + sum(prod(s) for s in self.inputs) + prod(self.output)

    @property
    def bytes(self) -> int:
        return self.elements * self.element

    def expression(self) -> str:
        """``(weight 73,856 + input 1×64×56×56 + output 1×128×54×54) × 4 B = 1,953,280``."""
        from paramscope.formulas._expr import dims

        parts = [f"weight {self.weight:,}"] if self.weight else []
        parts += [f"input {dims(s)}" for s in self.inputs]
        parts.append(f"output {dims(self.output)}")
        return f"({' + '.join(parts)}) × {self.element} B = {self.bytes:,}"


def traffic(node: LayerNode, dtype: str) -> Traffic:
    """Bytes moved by one call: its own parameters (read on every call, a shared module's
    included), each input tensor and the output, at ``dtype``."""
    weight = sum(p.numel for p in node.params.values())
    return Traffic(weight, tuple(tuple(s) for s in node.in_shapes), tuple(node.out_shape), dtype_bytes(dtype))


@dataclass(frozen=True)
class Roof:
    """One layer (or the total) on a device's roofline."""

    flops: int | None
    bytes: int
    compute_s: float | None  # flops / peak
    memory_s: float  # bytes / bandwidth

    @property
    def intensity(self) -> float | None:
        return None if self.flops is None or not self.bytes else self.flops / self.bytes

    @property
    def time(self) -> float | None:
        return None if self.compute_s is None else max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        if self.compute_s is None:
            return "unknown"
        return "compute" if self.compute_s >= self.memory_s else "memory"


def roof(flops: int | None, nbytes: int, spec: DeviceSpec | None, dtype: str) -> Roof:
    if spec is None:
        return Roof(flops, nbytes, None, 0.0)
    return Roof(flops, nbytes, None if flops is None else flops / spec.peak_for(dtype), nbytes / spec.bandwidth)
