"""Linear and Embedding.

Linear    params: weight = in × out, bias = out.
          MACs = prod(leading dims) × in × out; FLOPs = 2 × MACs + numel(out) with a bias.
Embedding params: weight = num_embeddings × embedding_dim; a lookup, no arithmetic.
"""

from __future__ import annotations

from math import prod

from paramscope.graph import LayerNode
from paramscope.formulas._expr import dims, join_notes, num, param_terms, shape_note, times
from paramscope.formulas.hparams import bind, shape_of
from paramscope.formulas.backward import (Backward, backward, elementwise, input_grad, mac_backward,
                                          param_grad)
from paramscope.formulas.registry import Cost, counted, formula, functional, shape_rule, Term
from paramscope.measure import fvcore as fv


@formula("Linear")
def linear(node: LayerNode) -> Cost:
    """y = x Wᵀ + b over the last dimension."""
    h = node.hparams
    fin, fout = h["in_features"], h["out_features"]
    w_expr = dims((fin, fout))
    parts = [("weight", w_expr, fin * fout)]
    if h.get("bias", True):
        parts.append(("bias", num(fout), fout))
    params, terms, pnote = param_terms(node, parts)

    lead, out = node.in_shape[:-1], node.out_shape
    check = shape_note((*lead, fin, fout), (*out[:-1], node.in_shape[-1], out[-1]))
    macs = prod(lead) * fin * fout
    terms.append(Term("macs", times(dims(lead), w_expr), macs))
    flops, flops_expr = 2 * macs, times("2", num(macs))
    if len(parts) == 2:
        flops += prod(out)
        flops_expr += " + " + dims(out)
    terms.append(Term("flops", flops_expr, flops))
    return Cost(node.kind, params, macs, flops, tuple(terms), "ok", join_notes(pnote, check))


def linear_param_shapes(h) -> dict:
    """weight out × in, bias out."""
    shapes = {"weight": (h["out_features"], h["in_features"])}
    if h.get("bias", True):
        shapes["bias"] = (h["out_features"],)
    return shapes


@shape_rule("Linear", params=linear_param_shapes)
def linear_out_shape(h, in_shape):
    """The last dimension becomes out_features."""
    return (*in_shape[:-1], h["out_features"])


counted("Linear", torchinfo="macs", fvcore="macs", flop_counter="macs")


@formula("Embedding")
def embedding(node: LayerNode) -> Cost:
    """A table lookup: parameters, no MACs, no FLOPs."""
    h = node.hparams
    rows, dim = h["num_embeddings"], h["embedding_dim"]
    params, terms, pnote = param_terms(node, [("weight", dims((rows, dim)), rows * dim)])
    terms += [Term("macs", "0", 0), Term("flops", "0", 0)]
    return Cost(node.kind, params, 0, 0, tuple(terms), "ok", join_notes("lookup only", pnote))


def embedding_param_shapes(h) -> dict:
    """weight num_embeddings × embedding_dim."""
    return {"weight": (h["num_embeddings"], h["embedding_dim"])}


@shape_rule("Embedding", params=embedding_param_shapes)
def embedding_out_shape(h, in_shape):
    """Each index becomes a row of embedding_dim."""
    return (*in_shape, h["embedding_dim"])


counted("Embedding", fvcore=fv.unsupported("embedding"))


def _linear(name, args, kwargs, out_shape):
    """``F.linear(input, weight, bias)``: features from the weight's shape."""
    b = bind(("input", "weight", "bias"), args, kwargs)
    w = shape_of(b.get("weight"))
    if len(w) != 2:
        return None
    return "Linear", {"in_features": w[1], "out_features": w[0], "bias": b.get("bias") is not None}


def _embedding(name, args, kwargs, out_shape):
    """``F.embedding(input, weight, ...)``: the table's shape."""
    w = shape_of(bind(("input", "weight"), args, kwargs).get("weight"))
    if len(w) != 2:
        return None
    return "Embedding", {"num_embeddings": w[0], "embedding_dim": w[1]}


functional("linear", extract=_linear)
functional("embedding", extract=_embedding)


@backward("Linear")
def linear_backward(node: LayerNode) -> Backward:
    """grad_input = grad_out · W and grad_weight = grad_outᵀ · x, each the forward MACs;
    grad_bias sums grad_out over the leading dimensions (numel(out) adds)."""
    out = node.out_shape
    bias = (dims(out), prod(out)) if node.hparams.get("bias", True) and param_grad(node, "bias") else None
    return mac_backward(node, linear(node), [("grad_input", "input", input_grad(node)),
                                             ("grad_weight", "weight", param_grad(node, "weight"))],
                        bias=bias)


@backward("Embedding")
def embedding_backward(node: LayerNode) -> Backward:
    """Indices take no gradient; grad_weight scatter-adds grad_out rows (1 add per element)."""
    return elementwise(node, 0, "indices", [("weight", 1, "scatter-add of grad_out rows")])
