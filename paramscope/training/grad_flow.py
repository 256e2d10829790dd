"""Which tensors require grad in a spec's forward pass, from its structure (no torch).

The network input never requires grad; a layer's output does when its input does or it
owns a trainable parameter; a residual sum's output when either branch's does.  The
walk follows the resolved module tree in call order, the order the graph's nodes were
emitted in, and fills ``LayerNode.requires_grad`` as a traced training graph has it.
"""

from __future__ import annotations

from dataclasses import replace

from paramscope.errors import ParamscopeError
from paramscope.graph import Graph, LayerNode


class _Walk:
    def __init__(self, graph: Graph) -> None:
        self.nodes = list(graph.nodes)
        self.i = 0

    def take(self, name: str, flags: dict[str, bool]) -> LayerNode:
        if self.i >= len(self.nodes) or self.nodes[self.i].name != name:
            got = self.nodes[self.i].key if self.i < len(self.nodes) else "the end"
            raise ParamscopeError(f"internal: spec grad flow expected a call of {name!r}, found {got}")
        node = replace(self.nodes[self.i], requires_grad=flags)
        self.nodes[self.i] = node
        self.i += 1
        return node

    def module(self, m, rg: bool) -> bool:
        if m.kind == "leaf":
            node = self.take(m.qualname, {"input": rg})
            return rg or any(p.trainable for p in node.params.values())
        if m.kind == "chain":
            for name in m.order:
                rg = self.module(m.children[name], rg)
            return rg
        body = rg
        for name in m.order:  # residual: body, shortcut, sum, activation
            body = self.module(m.children[name], body)
        short = self.module(m.children[m.shortcut], rg) if m.shortcut else rg
        self.take(m.qualname, {"input": body, "input1": short})
        out = body or short
        if m.activation:
            out = self.module(m.children[m.activation], out)
        return out


def spec_grad_graph(resolved, graph: Graph) -> Graph:
    """``graph`` (a resolved spec's, parameters possibly frozen) with requires_grad filled."""
    walk = _Walk(graph)
    walk.module(resolved.root, False)
    if walk.i != len(walk.nodes):
        raise ParamscopeError(f"internal: spec grad flow left {len(walk.nodes) - walk.i} calls unvisited")
    graph.nodes = walk.nodes
    return graph
