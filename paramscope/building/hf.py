"""``hf:NAME`` targets: a transformers model built from its config class, on the meta device.

``hf:gpt2``, ``hf:bert``, ``hf:llama``, ``hf:t5`` ... name a ``model_type`` of the installed
transformers (its ``CONFIG_MAPPING``); the default config of that class is used (no
download, no weights), ``--set`` sets config fields (``n_layer=24``; unknown fields are
rejected), and the model is the base model (``AutoModel``) unless a head is named after a
second colon: ``hf:gpt2:causal-lm``.  Inputs are token ids (int64, batch × tokens,
default 1×128; encoder-decoders also get ``decoder_input_ids`` of the same shape).
Attention runs in transformers' ``eager`` implementation (matmul, softmax, matmul): the
``sdpa`` path inspects mask values, which the meta device does not have.  A model whose
mask code needs an explicit mask (decoders: GPT-2, Llama) gets ``attention_mask`` (ones on a
real device) of the ids' shape.

``mode="decode"`` with ``context=N`` (decoder-only models) costs one generated token per
sequence with a KV cache of N positions, built on the meta device for every call.
"""

from __future__ import annotations

from typing import Any

from paramscope.errors import ParamscopeError, TargetError, clip, closest
from paramscope.tracing.input_spec import InputSet, TensorSpec

#: head name -> transformers Auto class
HEADS = {"base": "AutoModel", "causal-lm": "AutoModelForCausalLM", "masked-lm": "AutoModelForMaskedLM",
         "seq2seq-lm": "AutoModelForSeq2SeqLM", "classification": "AutoModelForSequenceClassification"}
MODES = ("prefill", "decode")
DEFAULT_TOKENS = 128


def split_name(text: str) -> tuple[str, str]:
    """``"hf:gpt2:causal-lm"`` -> ``("gpt2", "causal-lm")`` (syntax only, no import)."""
    body = text[3:] if text.startswith("hf:") else text
    name, _, head = body.partition(":")
    head = head or "base"
    if not name:
        raise TargetError(f"{text}: give a model type after hf: (e.g. hf:gpt2, hf:bert, hf:llama, hf:t5)")
    if head not in HEADS:
        raise TargetError(f"{text}: unknown head {head!r}{closest(head, tuple(HEADS))}; heads: {', '.join(HEADS)}")
    return name, head


def _transformers():
    try:
        from paramscope.sandbox import quiet_import

        transformers = quiet_import("transformers")
    except ImportError:
        raise TargetError("hf: targets need the transformers package: pip install 'paramscope[hf]'") from None
    return transformers


def config_for(name: str, overrides: dict[str, Any], label: str):
    """The default config of model type ``name`` with ``overrides`` set (checked by name)."""
    transformers = _transformers()
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    types = tuple(CONFIG_MAPPING.keys())
    if name not in types:
        raise TargetError(f"{label}: transformers {transformers.__version__} has no model type {name!r}"
                          f"{closest(name, types)}")
    cls = CONFIG_MAPPING[name]
    default = cls()
    for key in overrides:
        if not hasattr(default, key):
            fields = tuple(k for k in default.to_dict() if not k.startswith("_"))
            raise TargetError(f"{label}: --set {key}: not a field of {cls.__name__}{closest(key, fields)}")
    try:  # through the constructor, so derived fields (head_dim ...) follow the overrides
        config = cls(**overrides)
    except Exception as err:
        raise TargetError(f"{label}: {cls.__name__}({_kwargs(overrides)}) raised "
                          f"{type(err).__name__}: {clip(str(err))}") from None
    config.use_cache = False  # prefill: outputs without cache objects
    return config


def _kwargs(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items())


def build(name: str, head: str, config, label: str):
    """The model of ``config`` on the meta device (no weights allocated), in eval mode."""
    import torch

    transformers = _transformers()
    auto = getattr(transformers, HEADS[head])
    try:
        with torch.device("meta"):
            model = auto.from_config(config, attn_implementation="eager")
    except ValueError as err:  # e.g. no causal-lm class for this model type
        raise TargetError(f"{label}: {clip(str(err), 200)}") from None
    except Exception as err:
        raise TargetError(f"{label}: building {type(config).__name__} on meta raised "
                          f"{type(err).__name__}: {clip(str(err))}") from None
    return model.eval()


def expected_inputs(config, batch: int = 1, tokens: int = DEFAULT_TOKENS, mask: bool = False) -> InputSet:
    """Token ids (int64): ``input_ids`` positional, plus ``decoder_input_ids`` for
    encoder-decoders, plus an ``attention_mask`` of the same shape when ``mask``."""
    specs = [TensorSpec((batch, tokens), "int64")]
    if getattr(config, "is_encoder_decoder", False):
        specs.append(TensorSpec((batch, tokens), "int64", "decoder_input_ids"))
    if mask:
        specs.append(TensorSpec((batch, tokens), "int64", "attention_mask"))
    return InputSet(specs)


def check_positions(config, tokens: int, label: str) -> None:
    """Refuse more positions than the config's ``max_position_embeddings`` (the real model
    would fail; the meta device does not check indices)."""
    limit = getattr(config, "max_position_embeddings", None)
    if isinstance(limit, int) and tokens > limit:
        raise ParamscopeError(f"{label}: {tokens:,} positions exceed max_position_embeddings = {limit:,} of "
                              f"{type(config).__name__}; raise it with --set max_position_embeddings={tokens}")


def is_decoder(config) -> bool:
    """Decoder-only: a causal-LM class exists, no masked-LM class, not an encoder-decoder."""
    from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_MASKED_LM_MAPPING_NAMES)

    kind = config.model_type
    return (kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
            and not getattr(config, "is_encoder_decoder", False))


def decode_inputs(config, prefill: InputSet, context: int, mask: bool = False) -> InputSet:
    """One new token per sequence with a KV cache of ``context`` positions (decoder-only)."""
    if not is_decoder(config):
        raise ParamscopeError(f"--mode decode is for decoder-only models; {config.model_type} is "
                              + ("an encoder-decoder" if getattr(config, "is_encoder_decoder", False)
                                 else "not one (it has no causal-LM class, or it is a masked-LM encoder)"))
    if context is None or context < 1:
        raise ParamscopeError("--mode decode needs --context N (the KV-cache length, N ≥ 1)")
    batch = prefill.specs[0].shape[0]
    layers = int(config.num_hidden_layers)
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)

    def cache(device, dtype):
        import torch

        from paramscope.building.hf import _transformers
        _transformers()
        from transformers import DynamicCache

        try:
            kv = DynamicCache(config=config)
        except TypeError:  # transformers before the config argument
            kv = DynamicCache()
        for layer in range(layers):
            k = torch.empty(batch, kv_heads, context, head_dim, device=device, dtype=dtype)
            kv.update(k, torch.empty_like(k), layer)
        return {"past_key_values": kv, "use_cache": True}

    note = f"KV cache of {context} positions ({layers} layers × 2 × {batch}×{kv_heads}×{context}×{head_dim})"
    specs = [TensorSpec((batch, 1), "int64")]
    if mask:  # the mask covers the cache and the new token
        specs.append(TensorSpec((batch, context + 1), "int64", "attention_mask"))
    return InputSet(specs, extra=cache, note=note)
