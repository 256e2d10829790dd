"""MemTracker (``torch.distributed._tools.mem_tracker``) under FakeTensorMode: the memory of
real training steps by category, without allocating any memory -- the check of
:mod:`paramscope.training.memory`."""

from __future__ import annotations

from paramscope.reconciling.report import MeasurerResult

OPTIMIZER_CLASSES = {"sgd": ("SGD", {"lr": 0.1}), "momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
                     "adam": ("Adam", {}), "adamw": ("AdamW", {}), "adagrad": ("Adagrad", {}),
                     "rmsprop": ("RMSprop", {})}
#: the peak may differ from paramscope's by this fraction of MemTracker's (README "Training cost")
TOLERANCE = 0.10
CONVENTION = ("MemTracker (torch.distributed._tools.mem_tracker) under FakeTensorMode, no real "
              "memory: two training steps (forward, backward from the output, optimizer step, "
              "zero_grad), the second step's peak by category; gradients read after its "
              "backward. Parameters, gradients and optimizer state must be equal; the peak within "
              f"{TOLERANCE:.0%}, its difference split by MemTracker's categories.")


def _categories(snapshot) -> dict[str, int]:
    totals: dict[str, int] = {}
    for device in snapshot.values():
        for key, value in device.items():
            label = str(key).rpartition(".")[2].lower()
            totals[label] = totals.get(label, 0) + value
    return totals


def memtracker_peak(factory, input_shape, optimizer: str = "adamw", steps: int = 2) -> dict[str, int]:
    """Bytes by MemTracker category (param, buffer, grad, act, temp, opt, oth, total) at the peak
    of ``steps`` training steps of ``factory()`` (built inside FakeTensorMode), plus
    ``grads_after_backward`` and ``opt_after_step`` (the optimizer's state); the first step's
    peak is discarded."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    from paramscope.tracing.trace import first_tensor

    with FakeTensorMode(allow_non_fake_inputs=True):  # a meta model's tensors become fake ones
        model = factory()
        params = [p for p in model.parameters() if p.requires_grad]
        if optimizer != "none":
            name, kwargs = OPTIMIZER_CLASSES[optimizer]
            opt = getattr(torch.optim, name)(params, foreach=False, **kwargs)
        else:
            opt = None
        x = torch.randn(*input_shape)
        tracker = MemTracker()
        tracker.track_external(model, *([opt] if opt else []))
        grads = 0
        with tracker:
            for step in range(steps):
                out = first_tensor(model(x))
                if out is not None and out.requires_grad:
                    out.sum().backward()
                grads = _categories(tracker.get_tracker_snapshot()).get("grad", 0)
                del out  # not alive during the next step
                if opt is not None:
                    opt.step()
                    opt.zero_grad()
                else:
                    model.zero_grad()
                state = _categories(tracker.get_tracker_snapshot()).get("opt", 0)
                if step == 0:
                    tracker.reset_mod_stats()
        peak = _categories(tracker.get_tracker_snapshot("peak"))
    return {**peak, "grads_after_backward": grads, "opt_after_step": state}


def reconcile_memory(subject, memory, dtype: str) -> MeasurerResult:
    """Run MemTracker on ``subject``'s model and set it against ``memory`` (a TrainingMemory)."""
    try:
        from paramscope.tracing.trace import torch_dtype

        meta = subject.meta_model()
        m = memtracker_peak(lambda: _on_cpu(meta, torch_dtype(dtype)), subject.graph.input_shape,
                            memory.optimizer)
    except Exception as err:  # the tool failed: its column only
        text = " ".join(str(err).split())[:300]
        return MeasurerResult("memtracker", CONVENTION, "failed", note=f"{type(err).__name__}: {text}")
    # MemTracker's rule: tensors allocated before it starts (the input batch) are not tracked
    untracked = memory.at_peak.get("input batch", 0)
    tool_peak = memory.peak - untracked
    predicted = {"params": memory.params, "grads": memory.grads, "optimizer_state": memory.optimizer_state,
                 "peak": tool_peak}
    measured = {"params": m.get("param", 0) + m.get("buffer", 0), "grads": m["grads_after_backward"],
                "optimizer_state": m["opt_after_step"], "peak": m.get("total", 0)}
    at_peak = {"param": memory.params,
               "opt": memory.optimizer_state + memory.at_peak.get("optimizer temporaries", 0),
               "act": memory.at_peak["activations"], "grad": memory.at_peak["grads"],
               "temp": memory.at_peak["temporaries"]}
    names = {"param": "parameters + buffers", "grad": "gradients", "act": "activations",
             "temp": "temporaries", "opt": "optimizer state", "oth": "other"}
    diffs = {"input batch (allocated before tracking; paramscope counts it)": -untracked} if untracked else {}
    for key, label in names.items():
        got = m.get(key, 0) + (m.get("buffer", 0) if key == "param" else 0)
        if got - at_peak.get(key, 0):
            diffs[label] = got - at_peak.get(key, 0)
    exact = all(predicted[k] == measured[k] for k in ("params", "grads", "optimizer_state"))
    close = abs(tool_peak - measured["peak"]) <= TOLERANCE * measured["peak"]
    status = "match" if exact and close else "mismatch"
    note = (f"tracked peak {tool_peak - measured['peak']:+,} bytes "
            f"({(tool_peak - measured['peak']) / max(measured['peak'], 1):+.2%}; tolerance {TOLERANCE:.0%}); "
            "params, grads and optimizer state " + ("equal" if exact else "DIFFER")
            + "; measured - paramscope at the peak: "
            + (", ".join(f"{k} {v:+,}" for k, v in diffs.items()) or "none"))
    return MeasurerResult("memtracker", CONVENTION, status, total={"peak bytes": measured["peak"]},
                          predicted={"peak bytes": tool_peak}, note=note,
                          extra={"metric": "peak bytes", "compared_with": "training peak",
                                 "difference_by_category": diffs,
                                 "checks": {k: {"predicted": predicted[k], "measured": measured[k]}
                                            for k in predicted}})


def _on_cpu(model, dtype):
    """``model``'s parameters and buffers replaced by CPU tensors (fake ones inside
    FakeTensorMode), tied tensors kept tied.  A frozen parameter becomes a buffer (same
    bytes, no gradient): MemTracker hooks every parameter's gradient and refuses frozen ones."""
    import torch

    twins: dict[int, object] = {}
    originals = []  # kept alive so that no id is reused while twins are made
    for module in model.modules():
        for table in (module._parameters, module._buffers):
            for name, t in list(table.items()):
                if t is None:
                    continue
                if id(t) not in twins:
                    originals.append(t)
                    kind = dtype if t.is_floating_point() else t.dtype
                    new = torch.empty_like(t, device="cpu", dtype=kind)
                    trainable = isinstance(t, torch.nn.Parameter) and t.requires_grad
                    twins[id(t)] = torch.nn.Parameter(new) if trainable else new
                twin = twins[id(t)]
                if isinstance(twin, torch.nn.Parameter) or table is module._buffers:
                    table[name] = twin
                else:  # a frozen parameter
                    del table[name]
                    module._buffers[name] = twin
    return model
