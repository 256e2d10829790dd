"""torchvision detection, video and optical-flow models (runs when torchvision is installed).

Truth: sum(p.numel()) of the model as built, the weights enums' published ``_ops``
(GFLOPS in torchvision's convention = GMACs; read from the enum's meta, nothing is
downloaded) and FlopCounterMode on the same model and inputs.
"""

import pytest

torchvision = pytest.importorskip("torchvision")
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from torchvision.models import get_model, get_model_weights  # noqa: E402

from paramscope.analysis import analyze  # noqa: E402


def published_gmacs(name):
    ops = {w.meta["_ops"] for w in get_model_weights(name) if "_ops" in w.meta}
    assert len(ops) == 1, ops
    return ops.pop()


def meta_model(name, **kwargs):
    with torch.device("meta"):
        return get_model(name, weights=None, **kwargs).eval()


def flop_counter_macs(model, *inputs):
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*inputs)
    return counter.get_total_flops() // 2


SINGLE_STAGE = {"retinanet_resnet50_fpn": 800, "fcos_resnet50_fpn": 800, "ssd300_vgg16": 300,
                "ssdlite320_mobilenet_v3_large": 320}
TWO_STAGE = ("fasterrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn")


@pytest.mark.parametrize("name", [*SINGLE_STAGE, *TWO_STAGE])
def test_detection_models_analyse_with_exact_params(name):
    model = get_model(name, weights=None, weights_backbone=None).eval()
    size = SINGLE_STAGE.get(name, 800)
    report = analyze(model, inputs=f"list:3x{size}x{size}", measure="flop_counter")
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())
    measured = report.measurers["flop_counter"]  # FlopCounterMode during the same CPU run
    assert measured.total["flops (2 per MAC)"] == 2 * report.totals["macs"], measured
    notes = " ".join(report.notes)
    assert "real CPU run" in notes and "input-dependent" in notes
    if name in SINGLE_STAGE:  # the heads run on every anchor: the cost does not depend on content
        assert report.totals["macs"] == pytest.approx(published_gmacs(name) * 1e9, rel=0.02)
    else:  # RoI heads run on the proposals that survived: named as input-dependent
        assert "roi_heads" in notes


def test_raft_small_takes_two_images():
    model = meta_model("raft_small")
    report = analyze(model, inputs=["[1,3,520,960]", "[1,3,520,960]"], measure="flop_counter")
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())
    x = torch.empty(1, 3, 520, 960, device="meta")
    assert report.totals["macs"] == flop_counter_macs(model, x, x)
    assert report.measurers["flop_counter"].status in ("match", "unsupported")


@pytest.mark.parametrize("name", ["mvit_v1_b", "mvit_v2_s", "s3d", "swin3d_t"])
def test_video_models_without_brackets(name):
    model = meta_model(name)
    report = analyze(model, inputs="3x16x224x224", measure="none")
    assert tuple(report.input_shape) == (1, 3, 16, 224, 224)
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())
    macs = flop_counter_macs(model, torch.empty(1, 3, 16, 224, 224, device="meta"))
    assert report.totals["macs"] == macs
    assert report.totals["macs"] == pytest.approx(published_gmacs(name) * 1e9, rel=1e-3)
    missing = sorted({*report.unsupported, *(k.split(":", 1)[1] for k in report.unrecorded_ops)})
    assert not missing, missing  # every op has a formula (aten fallback included)
    assert report.to_dict()["complete"]
