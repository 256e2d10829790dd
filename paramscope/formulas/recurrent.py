"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional, projections) and their cells.

G gates per step (LSTM 4, GRU 3, RNN 1), hidden size H, recurrent size R (``proj_size`` or H),
layer input I (``input_size`` for layer 0, ``R × directions`` above it), T steps, N sequences:

params per layer and direction: weight_ih G·H×I, weight_hh G·H×R, bias_ih and bias_hh G·H,
                                weight_hr R×H with a projection.
MACs   = Σ layers, directions: T·N·G·H·(I + R)  (+ T·N·H·R for the projection),
         the products torch runs as one addmm / mm per step.
FLOPs  = 2 × MACs + per step and direction: G·H adds joining the input and hidden products,
         2·G·H bias adds (with bias) and the gate arithmetic per hidden unit
         (LSTM 15: 3 sigmoids, 2 tanh, c = f·c + i·g, h = o·tanh(c);
          GRU 13: 2 sigmoids, r·(W_hn h), add, tanh, (1 - z)·n + z·h; RNN 1: tanh or relu).
"""

from __future__ import annotations

from paramscope.formulas._expr import dims, join_notes, num, param_terms, times
from paramscope.formulas.backward import Backward, backward, input_grad, param_grad, summed
from paramscope.formulas.registry import Cost, Term, counted, formula
from paramscope.measure import flop_counter as fc, fvcore as fv
from paramscope.graph import LayerNode

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
GATE_FLOPS = {"LSTM": 15, "GRU": 13, "RNN": 1}


def _mode(kind: str) -> str:
    return kind.removesuffix("Cell")


@formula("LSTM", "GRU", "RNN")
def recurrent(node: LayerNode) -> Cost:
    """nn.LSTM / nn.GRU / nn.RNN over a whole sequence (see module docstring)."""
    h, mode = node.hparams, node.kind
    G, H = GATES[mode], h["hidden_size"]
    R = h.get("proj_size") or H
    layers, dirs = h.get("num_layers", 1), 2 if h.get("bidirectional") else 1
    bias = h.get("bias", True)
    x = node.in_shape
    if len(x) == 3:
        T, N = (x[1], x[0]) if h.get("batch_first") else (x[0], x[1])
    else:  # unbatched (T, I)
        T, N = x[0], 1
    parts, macs_parts, flops_extra = [], [], 0
    for layer in range(layers):
        I = h["input_size"] if layer == 0 else R * dirs
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            parts.append((f"weight_ih{sfx}", dims((G * H, I)), G * H * I))
            parts.append((f"weight_hh{sfx}", dims((G * H, R)), G * H * R))
            if bias:
                parts += [(f"bias_ih{sfx}", num(G * H), G * H), (f"bias_hh{sfx}", num(G * H), G * H)]
            if R != H:
                parts.append((f"weight_hr{sfx}", dims((R, H)), R * H))
            macs_parts.append((dims((T, N, G * H)) + f" × ({num(I)} + {num(R)})", T * N * G * H * (I + R)))
            if R != H:
                macs_parts.append((dims((T, N, H, R)), T * N * H * R))
            flops_extra += T * N * (G * H + (2 * G * H if bias else 0) + GATE_FLOPS[mode] * H)
    params, terms, pnote = param_terms(node, parts)
    macs = sum(v for _, v in macs_parts)
    terms.append(Term("macs", " + ".join(e for e, _ in macs_parts), macs))
    per_step = f"{num(G * H)}{f' + 2×{num(G * H)}' if bias else ''} + {GATE_FLOPS[mode]}×{num(H)}"
    terms.append(Term("flops", f"2 × {num(macs)} + {num(flops_extra)}", 2 * macs + flops_extra))
    note = (f"{layers} layer(s), {dirs} direction(s), {T} steps of {N}; per step and direction: "
            f"{per_step} FLOPs besides the products")
    return Cost(node.kind, params, macs, 2 * macs + flops_extra, tuple(terms), "ok",
                join_notes(note, pnote))


counted("LSTM", torchinfo="macs", fvcore=fv.unsupported("lstm"), flop_counter="macs",
        flop_counter_cpu=fc.lstm_on_cpu)
counted("GRU", torchinfo="macs", fvcore=fv.unsupported("gru"), flop_counter="macs")
counted("RNN", torchinfo="macs", flop_counter="macs",
        fvcore=fv.unsupported(lambda node: f"rnn_{node.hparams.get('nonlinearity', 'tanh')}"))


@formula("LSTMCell", "GRUCell", "RNNCell")
def recurrent_cell(node: LayerNode) -> Cost:
    """One step of nn.LSTMCell / nn.GRUCell / nn.RNNCell."""
    h, mode = node.hparams, _mode(node.kind)
    G, H, I = GATES[mode], h["hidden_size"], h["input_size"]
    bias = h.get("bias", True)
    x = node.in_shape
    N = x[0] if len(x) == 2 else 1
    parts = [("weight_ih", dims((G * H, I)), G * H * I), ("weight_hh", dims((G * H, H)), G * H * H)]
    if bias:
        parts += [("bias_ih", num(G * H), G * H), ("bias_hh", num(G * H), G * H)]
    params, terms, pnote = param_terms(node, parts)
    macs = N * G * H * (I + H)
    extra = N * (G * H + (2 * G * H if bias else 0) + GATE_FLOPS[mode] * H)
    terms += [Term("macs", times(dims((N, G * H)), f"({num(I)} + {num(H)})"), macs),
              Term("flops", f"2 × {num(macs)} + {num(extra)}", 2 * macs + extra)]
    return Cost(node.kind, params, macs, 2 * macs + extra, tuple(terms), "ok", pnote)


# a cell runs as aten::linear in fvcore's trace
counted("LSTMCell", "GRUCell", "RNNCell", torchinfo="macs", fvcore="macs", flop_counter="macs")


@backward("LSTM", "GRU", "RNN")
def recurrent_backward(node: LayerNode) -> Backward:
    """Per layer and direction, as autograd runs it: grad_weight repeats the forward products
    of each trainable weight (all T steps); grad_input costs ``T·N·G·H·I`` for an input that
    requires grad and ``(T-1)·N·G·H·R`` for the hidden state carried back through the steps
    (the zero initial state gets none), plus ``T·N·H·R`` through a projection; grad_bias sums
    ``T·N·G·H`` per trainable bias; the gate arithmetic costs twice its forward FLOPs."""
    h, mode = node.hparams, node.kind
    G, H = GATES[mode], h["hidden_size"]
    R = h.get("proj_size") or H
    layers, dirs = h.get("num_layers", 1), 2 if h.get("bidirectional") else 1
    x = node.in_shape
    T, N = ((x[1], x[0]) if h.get("batch_first") else (x[0], x[1])) if len(x) == 3 else (x[0], 1)
    parts, extra = [], []
    flows = input_grad(node)  # does a gradient reach this layer's input from below?
    for layer in range(layers):
        I = h["input_size"] if layer == 0 else R * dirs
        layer_trainable = False
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            train = {name: param_grad(node, f"{name}{sfx}") for name in ("weight_ih", "weight_hh", "weight_hr",
                                                                         "bias_ih", "bias_hh")}
            trainable = any(train.values())
            layer_trainable |= trainable
            if not (trainable or flows):
                continue
            if train["weight_ih"]:
                parts.append((f"grad_weight weight_ih{sfx}", dims((T, N, G * H, I)), T * N * G * H * I))
            if train["weight_hh"]:
                parts.append((f"grad_weight weight_hh{sfx}", dims((T, N, G * H, R)), T * N * G * H * R))
            if R != H and train["weight_hr"]:
                parts.append((f"grad_weight weight_hr{sfx}", dims((T, N, H, R)), T * N * H * R))
            if flows:
                parts.append((f"grad_input input{sfx}", dims((T, N, G * H, I)), T * N * G * H * I))
            parts.append((f"grad_input hidden{sfx}", dims((T - 1, N, G * H, R)), (T - 1) * N * G * H * R))
            if R != H:
                parts.append((f"grad_input projection{sfx}", dims((T, N, H, R)), T * N * H * R))
            for b in ("bias_ih", "bias_hh"):
                if train[b]:
                    extra.append((f"grad_bias {b}{sfx}", dims((T, N, G * H)), T * N * G * H))
            per_step = G * H + GATE_FLOPS[mode] * H
            extra.append((f"gates{sfx}", f"2 × {dims((T, N))} × {num(per_step)}", 2 * T * N * per_step))
        flows = flows or layer_trainable
    return summed(node.kind, parts, extra, "gradients carried back through every step")


@backward("LSTMCell", "GRUCell", "RNNCell")
def recurrent_cell_backward(node: LayerNode) -> Backward:
    """One step: grad_weight repeats the forward products of trainable weights; grad_input
    for the input and for a given hidden state that require grad."""
    h, mode = node.hparams, _mode(node.kind)
    G, H, I = GATES[mode], h["hidden_size"], h["input_size"]
    x = node.in_shape
    N = x[0] if len(x) == 2 else 1
    parts, extra = [], []
    if param_grad(node, "weight_ih"):
        parts.append(("grad_weight weight_ih", dims((N, G * H, I)), N * G * H * I))
    if param_grad(node, "weight_hh"):
        parts.append(("grad_weight weight_hh", dims((N, G * H, H)), N * G * H * H))
    if input_grad(node):
        parts.append(("grad_input input", dims((N, G * H, I)), N * G * H * I))
    if input_grad(node, "input1"):
        parts.append(("grad_input hidden", dims((N, G * H, H)), N * G * H * H))
    for b in ("bias_ih", "bias_hh"):
        if param_grad(node, b):
            extra.append((f"grad_bias {b}", dims((N, G * H)), N * G * H))
    per_step = G * H + GATE_FLOPS[mode] * H
    extra.append(("gates", f"2 × {num(N)} × {num(per_step)}", 2 * N * per_step))
    return summed(node.kind, parts, extra)
