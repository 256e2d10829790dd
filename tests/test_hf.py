"""``hf:`` targets (runs when transformers is installed).

Truth: sum(p.numel()) of the model transformers builds from the same config, published
parameter counts (GPT-2 small 124,439,808; BERT-base 109,482,240) and FlopCounterMode on
the same model and token ids.
"""

import time

import pytest

transformers = pytest.importorskip("transformers")
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from paramscope.analysis import analyze  # noqa: E402
from paramscope.errors import ParamscopeError  # noqa: E402
from conftest import run_cli  # noqa: E402

TINY_LLAMA = dict(num_hidden_layers=2, hidden_size=256, intermediate_size=512, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=1000)


def reference(model_type, auto="AutoModel", **config):
    """The model transformers builds, independently of paramscope (meta, eager attention)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    with torch.device("meta"):
        return getattr(transformers, auto).from_config(CONFIG_MAPPING[model_type](**config),
                                                       attn_implementation="eager").eval()


def flop_counter_macs(model, **inputs):
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(**inputs)
    return counter.get_total_flops() // 2


def ids(*shape):
    return torch.empty(shape, dtype=torch.long, device="meta")


def incomplete(report):
    return sorted({*report.unsupported, *(k.split(":", 1)[1] for k in report.unrecorded_ops)})


def test_gpt2_summary_from_the_cli():
    import json

    code, out, err = run_cli("summary", "hf:gpt2", "--input", "1x128", "--measure", "flop_counter", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["totals"]["params"] == 124_439_808 == sum(p.numel() for p in reference("gpt2").parameters())
    assert data["input_shape"] == [1, 128]
    macs = flop_counter_macs(reference("gpt2"), input_ids=ids(1, 128), attention_mask=ids(1, 128))
    missing = incomplete_dict(data)
    assert not missing, missing  # Conv1D's torch.addmm is costed from its aten ops
    assert data["totals"]["macs"] == macs


def incomplete_dict(data):
    return sorted({*data["unsupported_kinds"], *(k.split(":", 1)[1] for k in data["unrecorded_ops"])})


def test_bert_params_and_macs_equal_flop_counter():
    report = analyze("hf:bert", inputs="1x128", measure="none")
    assert report.totals["params"] == 109_482_240
    assert report.totals["macs"] == flop_counter_macs(reference("bert"), input_ids=ids(1, 128))
    assert report.to_dict()["complete"], incomplete(report)


def test_llama_builds_on_meta_in_seconds_without_weights():
    start = time.perf_counter()
    report = analyze("hf:llama", inputs="1x16", measure="none")
    assert time.perf_counter() - start < 60  # 6.6 G parameters would need 26 GB if allocated
    assert report.totals["params"] == sum(p.numel() for p in reference("llama").parameters())


def test_set_maps_to_config_fields_and_macs_equal_flop_counter():
    report = analyze("hf:llama", inputs="2x32", overrides=TINY_LLAMA, measure="flop_counter")
    model = reference("llama", **TINY_LLAMA)
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())
    assert report.totals["macs"] == flop_counter_macs(model, input_ids=ids(2, 32), attention_mask=ids(2, 32))


def test_decode_costs_one_token_with_a_kv_cache():
    from transformers import DynamicCache

    report = analyze("hf:llama", inputs="2x32", overrides=TINY_LLAMA, measure="flop_counter",
                     mode="decode", context=64)
    model = reference("llama", **TINY_LLAMA, use_cache=True)
    cache = DynamicCache(config=model.config)
    for layer in range(2):
        k = torch.empty(2, 2, 64, 256 // 4, device="meta")  # kv heads 2, head_dim hidden/heads
        cache.update(k, k.clone(), layer)
    assert report.totals["macs"] == flop_counter_macs(model, input_ids=ids(2, 1), past_key_values=cache,
                                                      use_cache=True)
    prefill = analyze("hf:llama", inputs="2x64", overrides=TINY_LLAMA, measure="none").totals["macs"]
    assert f"costs {prefill:,} MACs" in " ".join(report.notes)
    assert report.measurers["flop_counter"].status in ("match", "unsupported")


def test_encoder_decoder_gets_decoder_ids():
    report = analyze("hf:t5", inputs="1x32", overrides={"num_layers": 2, "num_decoder_layers": 2}, measure="none")
    model = reference("t5", num_layers=2, num_decoder_layers=2)
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())
    assert report.totals["macs"] == flop_counter_macs(model, input_ids=ids(1, 32), decoder_input_ids=ids(1, 32))


def test_compare_two_hf_targets():
    code, out, err = run_cli("compare", "hf:bert", "hf:bert", "--set", "num_hidden_layers=2", "--input", "1x64",
                             "--no-layers")
    assert code == 0, err
    assert "int64:1×64" in out.splitlines()[3]  # the input row names the token ids (a table spells 1×64)


@pytest.mark.parametrize("args, fragment", [
    (("hf:gpt3",), "no model type 'gpt3'"),
    (("hf:gpt2", "--set", "n_layr=3"), "did you mean n_layer"),
    (("hf:gpt2:foo",), "unknown head 'foo'"),
    (("hf:bert", "--mode", "decode", "--context", "8"), "decoder-only"),
    (("hf:gpt2", "--mode", "decode"), "needs --context"),
    (("hf:gpt2", "--context", "8"), "--context applies to --mode decode"),
    (("hf:gpt2", "--input", "1x1025"), "1,025 positions exceed max_position_embeddings = 1,024"),
    (("hf:gpt2", "--mode", "decode", "--context", "1024"), "1,025 positions exceed"),
])
def test_bad_hf_usage_is_one_line(args, fragment):
    code, out, err = run_cli("summary", *args, "--measure", "none")
    assert code == 2, (out, err)
    assert fragment in err and "Traceback" not in err and err.count("\n") == 1


def test_mode_decode_is_only_for_hf():
    with pytest.raises(ParamscopeError, match="hf: decoder models only"):
        analyze("resnet18", mode="decode", context=4, measure="none")


def test_sweep_over_config_fields_and_token_counts():
    from paramscope.sweep import sweep

    result = sweep("hf:bert", {"num_hidden_layers": [1, 2]}, ["32", "1x64"])
    assert [row.input_shape for row in result.rows] == [(1, 32), (1, 64)] * 2
    for row in result.rows:
        model = reference("bert", num_hidden_layers=row.overrides["num_hidden_layers"])
        assert row.totals["params"] == sum(p.numel() for p in model.parameters())
        assert row.totals["macs"] == flop_counter_macs(model, input_ids=ids(*row.input_shape))


def test_non_token_models_take_named_inputs():
    with pytest.raises(ParamscopeError, match="give other inputs by name"):
        analyze("hf:vit", measure="none")
    report = analyze("hf:vit", inputs="pixel_values=1x3x32x32", overrides={"image_size": 32, "num_hidden_layers": 1},
                     measure="none")
    model = reference("vit", image_size=32, num_hidden_layers=1)
    assert report.totals["params"] == sum(p.numel() for p in model.parameters())
    assert report.totals["macs"] == flop_counter_macs(
        model, pixel_values=torch.empty(1, 3, 32, 32, device="meta"))
