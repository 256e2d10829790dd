"""MemTracker (``torch.distributed._tools.mem_tracker``) under FakeTensorMode: the memory of
real training steps by category, without allocating any memory.  The check for
:mod:`paramscope.training.memory`."""

from __future__ import annotations

OPTIMIZER_CLASSES = {"sgd": ("SGD", {"lr": 0.1}), "momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
                     "adam": ("Adam", {}), "adamw": ("AdamW", {}), "adagrad": ("Adagrad", {}),
                     "rmsprop": ("RMSprop", {})}


def memtracker_peak(factory, input_shape, optimizer: str = "adamw", steps: int = 2) -> dict[str, int]:
    """Bytes by MemTracker category (param, buffer, grad, act, temp, opt, total) at the peak of
    ``steps`` training steps (forward, ``sum().backward()``, ``step()``, ``zero_grad()``) of
    ``factory()`` built and run inside FakeTensorMode; the first step's peak is discarded."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    with FakeTensorMode():
        model = factory()
        params = [p for p in model.parameters() if p.requires_grad]
        name, kwargs = OPTIMIZER_CLASSES[optimizer]
        opt = getattr(torch.optim, name)(params, foreach=False, **kwargs)
        x = torch.randn(*input_shape)
        tracker = MemTracker()
        tracker.track_external(model, opt)
        with tracker:
            for step in range(steps):
                model(x).sum().backward()
                opt.step()
                opt.zero_grad()
                if step == 0:
                    tracker.reset_mod_stats()
        peak = tracker.get_tracker_snapshot("peak")
    totals: dict[str, int] = {}
    for device in peak.values():
        for key, value in device.items():
            label = str(key).rpartition(".")[2].lower()
            totals[label] = totals.get(label, 0) + value
    return totals
