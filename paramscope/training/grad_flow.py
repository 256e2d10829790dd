"""Which tensors require grad in a spec's forward pass, from its structure (no torch).

The network input never requires grad; a layer's output does when its input does or it
owns a trainable parameter; a residual sum's output when either branch's does.  The
walk follows the resolved module tree in call order, the order the graph's nodes were
emitted in, and fills ``LayerNode.requires_grad`` and ``LayerNode.flow`` (which calls
share a tensor: an in-place layer or a view keeps its input's) as a traced training graph
of the built model (in eval mode) has them.
"""

from __future__ import annotations

from dataclasses import replace

from paramscope.errors import ParamscopeError
from paramscope.graph import Graph, LayerNode


#: kinds whose output is their input's storage (a view, or the input itself in eval mode).
SAME_STORAGE = frozenset({"Flatten", "Unflatten", "Identity", "Dropout", "Dropout1d", "Dropout2d",
                          "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"})


class _Walk:
    def __init__(self, graph: Graph) -> None:
        self.nodes = list(graph.nodes)
        self.i = 0
        self.tokens = 1  # the network input's storage

    def new(self) -> int:
        self.tokens += 1
        return self.tokens

    def take(self, name: str, flags: dict[str, bool], inputs: tuple[int, ...]) -> LayerNode:
        if self.i >= len(self.nodes) or self.nodes[self.i].name != name:
            got = self.nodes[self.i].key if self.i < len(self.nodes) else "the end"
            raise ParamscopeError(f"internal: spec grad flow expected a call of {name!r}, found {got}")
        node = self.nodes[self.i]
        same = node.kind in SAME_STORAGE or node.hparams.get("inplace")
        node = replace(node, requires_grad=flags, flow=(inputs, inputs[0] if same else self.new()))
        self.nodes[self.i] = node
        self.i += 1
        return node

    def module(self, m, rg: bool, token: int) -> tuple[bool, int]:
        """``(requires grad, storage token)`` of ``m``'s output for an input with both."""
        if m.kind == "leaf":
            node = self.take(m.qualname, {"input": rg}, (token,))
            return rg or any(p.trainable for p in node.params.values()), node.flow[1]
        if m.kind == "chain":
            for name in m.order:
                rg, token = self.module(m.children[name], rg, token)
            return rg, token
        body = (rg, token)
        for name in m.order:  # residual: body, shortcut, sum, activation
            body = self.module(m.children[name], *body)
        short = self.module(m.children[m.shortcut], rg, token) if m.shortcut else (rg, token)
        node = self.take(m.qualname, {"input": body[0], "input1": short[0]}, (body[1], short[1]))
        out = (body[0] or short[0], node.flow[1])
        for name in m.activation:  # the post-sum layers, in call order
            out = self.module(m.children[name], *out)
        return out


def spec_grad_graph(resolved, graph: Graph) -> Graph:
    """``graph`` (a resolved spec's, parameters possibly frozen) with requires_grad filled."""
    walk = _Walk(graph)
    walk.module(resolved.root, False, 1)
    if walk.i != len(walk.nodes):
        raise ParamscopeError(f"internal: spec grad flow left {len(walk.nodes) - walk.i} calls unvisited")
    graph.nodes = walk.nodes
    return graph
