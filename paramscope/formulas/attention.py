"""Attention: ``F.multi_head_attention_forward`` (nn.MultiheadAttention) and
``F.scaled_dot_product_attention``.

Shapes come from the hyper-parameters the trace records (query ``L×N×E``, key ``S×N×kdim``,
value ``S×N×vdim``; SDPA ``…×L×d`` / ``…×S×d`` / ``…×S×d_v``).  MACs: the q/k/v and output
projections (linear, bias excluded) plus ``Q·Kᵀ`` and ``softmax·V``.  FLOPs: 2 × MACs, the
projection biases (1 per output element), the 1/√d scaling of q (1 per element) and the
softmax (5 per score, as the Softmax formula).  Parameters belong to the module that owns
them (``in_proj_weight``, ``out_proj``), so these functional calls count none.
"""

from __future__ import annotations

from math import prod

from paramscope.formulas._expr import dims, num, times
from paramscope.formulas.activation import ACTIVATION_FLOPS
from paramscope.formulas.hparams import bind, shape_of
from paramscope.formulas.registry import Cost, counted, formula, functional, Term
from paramscope.measure import flop_counter as fc, fvcore as fv
from paramscope.formulas.backward import Backward, backward, input_grad, summed
from paramscope.graph import LayerNode

SOFTMAX_FLOPS = ACTIVATION_FLOPS["Softmax"][0]


def _terms(parts: list[tuple[str, str, int]], extra: list[tuple[str, str, int]]) -> tuple[int, int, tuple]:
    macs = sum(v for _, _, v in parts)
    flops_extra = sum(v for _, _, v in extra)
    terms = [Term(f"macs ({label})", expr, v) for label, expr, v in parts]
    terms.append(Term("macs", " + ".join(num(v) for _, _, v in parts), macs))
    terms += [Term(f"flops ({label})", expr, v) for label, expr, v in extra]
    flop_expr = " + ".join([f"2 × {num(macs)}"] + [num(v) for _, _, v in extra])
    terms.append(Term("flops", flop_expr, 2 * macs + flops_extra))
    return macs, 2 * macs + flops_extra, tuple(terms)


@formula("MultiheadAttention")
def multi_head_attention(node: LayerNode) -> Cost:
    """nn.MultiheadAttention's forward: projections, scores, weighted values, output projection."""
    h = node.hparams
    (L, N, E), (S, _, kdim), (_, _, vdim) = h["q_shape"], h["k_shape"], h["v_shape"]
    heads = h["num_heads"]
    S_att = S + int(h.get("bias_k", False)) + int(h.get("add_zero_attn", False))
    parts = [
        ("q projection", dims((L, N, E, E)), L * N * E * E),
        ("k projection", dims((S, N, kdim, E)), S * N * kdim * E),
        ("v projection", dims((S, N, vdim, E)), S * N * vdim * E),
        ("Q·Kᵀ", times(dims((N, heads, L, S_att)), f"{num(E)}/{heads}"), N * L * S_att * E),
        ("softmax·V", times(dims((N, heads, L, S_att)), f"{num(E)}/{heads}"), N * L * S_att * E),
        ("output projection", dims((L, N, E, E)), L * N * E * E),
    ]
    extra = [("1/√d scaling", dims((L, N, E)), L * N * E),
             ("softmax", times(num(SOFTMAX_FLOPS), dims((N, heads, L, S_att))),
              SOFTMAX_FLOPS * N * heads * L * S_att)]
    if h.get("in_proj_bias"):
        extra.append(("projection biases", f"{dims((L, N, E))} + 2 × {dims((S, N, E))}",
                      L * N * E + 2 * S * N * E))
    if h.get("out_proj_bias"):
        extra.append(("output bias", dims((L, N, E)), L * N * E))
    macs, flops, terms = _terms(parts, extra)
    return Cost(node.kind, {}, macs, flops, terms, "ok",
                f"{heads} heads of {E // heads}; parameters are counted by the module")


@formula("scaled_dot_product_attention")
def scaled_dot_product_attention(node: LayerNode) -> Cost:
    """softmax(Q·Kᵀ/√d + mask)·V on ``…×L×d`` queries and ``…×S×d`` keys."""
    q, k, v = node.hparams["q_shape"], node.hparams["k_shape"], node.hparams["v_shape"]
    batch, L, d, S, dv = prod(q[:-2]), q[-2], q[-1], k[-2], v[-1]
    parts = [("Q·Kᵀ", dims((*q[:-2], L, S, d)), batch * L * S * d),
             ("softmax·V", dims((*q[:-2], L, S, dv)), batch * L * S * dv)]
    extra = [("1/√d scaling", dims((*q[:-2], L, S)), batch * L * S),
             ("softmax", times(num(SOFTMAX_FLOPS), dims((*q[:-2], L, S))), SOFTMAX_FLOPS * batch * L * S)]
    macs, flops, terms = _terms(parts, extra)
    return Cost(node.kind, {}, macs, flops, terms, "ok", "")


MHA_ARGS = ("query", "key", "value", "embed_dim_to_check", "num_heads", "in_proj_weight",
             "in_proj_bias", "bias_k", "bias_v", "add_zero_attn", "dropout_p", "out_proj_weight",
             "out_proj_bias")


def _mha(name, args, kwargs, out_shape):
    """``F.multi_head_attention_forward``: q/k/v shapes (L×N×E), heads and biases."""
    b = bind(MHA_ARGS + ("training", "key_padding_mask", "need_weights", "attn_mask"), args, kwargs)
    shapes = [shape_of(b.get(k)) for k in ("query", "key", "value")]
    if any(len(s) == 2 for s in shapes):  # unbatched (L, E): one sequence
        shapes = [(s[0], 1, s[1]) for s in shapes]
    if any(len(s) != 3 for s in shapes):
        return None
    return "MultiheadAttention", {
        "q_shape": shapes[0], "k_shape": shapes[1], "v_shape": shapes[2],
        "num_heads": int(b.get("num_heads", 1)),
        "in_proj_bias": b.get("in_proj_bias") is not None,
        "out_proj_bias": b.get("out_proj_bias") is not None,
        "bias_k": b.get("bias_k") is not None,
        "add_zero_attn": bool(b.get("add_zero_attn", False)),
        "need_weights": bool(b.get("need_weights", True)), "dropout_p": float(b.get("dropout_p") or 0),
        "masked": b.get("attn_mask") is not None or b.get("key_padding_mask") is not None,
        "self_attention": b.get("query") is b.get("key") is b.get("value")}


def _sdpa(name, args, kwargs, out_shape):
    """``F.scaled_dot_product_attention``: …×L×d queries, …×S×d keys, …×S×d_v values."""
    b = bind(("query", "key", "value", "attn_mask", "dropout_p"), args, kwargs)
    shapes = [shape_of(b.get(k)) for k in ("query", "key", "value")]
    if any(len(s) < 2 for s in shapes):
        return None
    return "scaled_dot_product_attention", {"q_shape": shapes[0], "k_shape": shapes[1],
                                            "v_shape": shapes[2],
                                            "dropout_p": float(b.get("dropout_p") or 0)}


functional("multi_head_attention_forward", extract=_mha)
functional("scaled_dot_product_attention", extract=_sdpa)
counted("MultiheadAttention", torchinfo="macs", fvcore=fv.attention, flop_counter="macs",
        flop_counter_cpu=fc.attention_on_cpu)
counted("scaled_dot_product_attention", torchinfo="macs", flop_counter="macs",
        fvcore=fv.unsupported("scaled_dot_product_attention"), flop_counter_cpu=fc.sdpa_on_cpu)


def _attention_parts(fwd: Cost, q: bool, k: bool, v: bool) -> list[tuple[str, str, int]]:
    """Gradients of Q·Kᵀ and softmax·V, each the forward MACs of its product, for the
    operands that require grad (the scores need one when q or k does)."""
    term = {t.quantity: t for t in fwd.terms}
    qk, sv = term["macs (Q·Kᵀ)"], term["macs (softmax·V)"]
    wanted = [("grad_input (Q of Q·Kᵀ)", qk, q), ("grad_input (K of Q·Kᵀ)", qk, k),
              ("grad_input (scores of softmax·V)", sv, q or k), ("grad_input (V of softmax·V)", sv, v)]
    return [(label, t.expression, t.value) for label, t, needed in wanted if needed]


def _softmax_scaling(fwd: Cost, scores_need: bool, scaled_need: bool) -> list[tuple[str, str, int]]:
    """Non-MAC gradients: the softmax's (its forward FLOPs per score + 1 multiply by grad_out,
    as the Softmax kind's backward) when the scores need one, and the 1/√d scaling's (1 per
    element, as forward) when the scaled operand does."""
    term = {t.quantity: t for t in fwd.terms}
    softmax, scaling = term["flops (softmax)"], term["flops (1/√d scaling)"]
    scores, shape = softmax.value // SOFTMAX_FLOPS, softmax.expression.split(" × ", 1)[1]
    out = []
    if scores_need:
        out.append(("grad softmax", f"{SOFTMAX_FLOPS + 1} × {shape}", (SOFTMAX_FLOPS + 1) * scores))
    if scaled_need:
        out.append(("grad 1/√d scaling", scaling.expression, scaling.value))
    return out


@backward("MultiheadAttention")
def multi_head_attention_backward(node: LayerNode) -> Backward:
    """Projections: grad_input (each the forward MACs) when query / key / value requires grad,
    grad_weight when the projection weight does; then the Q·Kᵀ and softmax·V gradients."""
    fwd = multi_head_attention(node)
    term = {t.quantity: t for t in fwd.terms}
    g = node.requires_grad

    def w(name: str) -> bool:
        return bool(g.get(f"{name}_proj_weight") or g.get("in_proj_weight"))

    def b() -> bool:
        return bool(g.get("in_proj_bias"))

    need = {r: bool(g.get(x) or w(r) or b()) for r, x in (("q", "query"), ("k", "key"), ("v", "value"))}
    parts = []
    for r, x, label in (("q", "query", "q projection"), ("k", "key", "k projection"),
                        ("v", "value", "v projection")):
        t = term[f"macs ({label})"]
        if g.get(x):
            parts.append((f"grad_input ({x})", t.expression, t.value))
        if w(r):
            parts.append((f"grad_weight ({label})", t.expression, t.value))
    parts += _attention_parts(fwd, need["q"], need["k"], need["v"])
    out = term["macs (output projection)"]
    if any(need.values()):
        parts.append(("grad_input (output projection)", out.expression, out.value))
    if g.get("out_proj_weight"):
        parts.append(("grad_weight (output projection)", out.expression, out.value))
    (L, N, E) = node.hparams["q_shape"]
    (S, _, _) = node.hparams["k_shape"]
    bias = []
    if g.get("in_proj_bias"):
        bias.append(f"{dims((L, N, E))} + 2 × {dims((S, N, E))}")
    if g.get("out_proj_bias"):
        bias.append(dims((L, N, E)))
    flops = (L * N * E + 2 * S * N * E) * bool(g.get("in_proj_bias")) + L * N * E * bool(g.get("out_proj_bias"))
    extra = _softmax_scaling(fwd, need["q"] or need["k"], need["q"])
    return summed(node.kind, parts, extra, bias=(" + ".join(bias), flops) if bias else None,
                  note="projection and attention gradients, each the forward MACs of its product")


@backward("scaled_dot_product_attention")
def scaled_dot_product_attention_backward(node: LayerNode) -> Backward:
    """The Q·Kᵀ and softmax·V gradients for the operands that require grad."""
    fwd = scaled_dot_product_attention(node)
    q, k = input_grad(node, "query"), input_grad(node, "key")
    parts = _attention_parts(fwd, q, k, input_grad(node, "value"))
    return summed(node.kind, parts, _softmax_scaling(fwd, q or k, q or k))
