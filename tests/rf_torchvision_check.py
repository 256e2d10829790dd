"""Receptive fields of torchvision models against the gradient measurement (manual run).

``PYTHONPATH=. python tests/rf_torchvision_check.py [resnet50 vgg16 mobilenet_v2 googlenet]``
with torchvision installed; prints, per model, the layer outputs checked and every
disagreement.  Layers whose predicted window, output shape and checked position repeat an
earlier layer's are checked once.  tests/test_receptive.py runs the same check on small
inputs when torchvision is installed.
"""

from __future__ import annotations

import sys
import time

from rf_gradient import check_model

from paramscope.perf.receptive import receptive_fields

BUILD = {
    "resnet50": lambda tv: tv.models.resnet50(),
    "vgg16": lambda tv: tv.models.vgg16(),
    "mobilenet_v2": lambda tv: tv.models.mobilenet_v2(),
    "googlenet": lambda tv: tv.models.googlenet(aux_logits=False, init_weights=False),
}


#: input sizes: 128 keeps the gradient runs short (windows are clipped to the input, which the
#: check handles); vgg16 at 224 so its adaptive pool is the identity (7 -> 7), not uneven windows
SIZES = {"vgg16": 224}


def check(name: str, size: int | None = None, dedupe: bool = True, limit: int | None = None) -> tuple[int, list[str], dict]:
    import torch
    import torchvision

    torch.manual_seed(0)
    model = BUILD[name](torchvision).eval()
    size = size or SIZES.get(name, 128)
    shape = (1, 3, size, size)
    predicted = receptive_fields(model, shape)
    checked, bad = check_model(model, shape, predicted, dedupe=dedupe, limit=limit)
    return checked, bad, predicted


if __name__ == "__main__":
    for name in sys.argv[1:] or list(BUILD):
        start = time.time()
        checked, bad, predicted = check(name)
        print(f"{name}: {checked} layer outputs checked, {len(bad)} disagreements, rules missing for "
              f"{predicted.unknown_ops or 'no op'}; output RF {predicted.output.text()} "
              f"({time.time() - start:.0f} s)", flush=True)
        for line in bad[:20]:
            print("   ", line)
