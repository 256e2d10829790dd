"""torch.einsum with two operands: MACs equal FlopCounterMode / 2; anything else is named."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from paramscope.formulas import cost_of
from paramscope.tracing.trace import trace


class Einsum(nn.Module):
    def __init__(self, equation: str, other: tuple[int, ...]) -> None:
        super().__init__()
        self.equation, self.other = equation, other

    def forward(self, x):
        return torch.einsum(self.equation, x, x.new_empty(self.other))


CASES = [
    ("bld,bmd->blm", (2, 5, 8), (2, 7, 8)),     # attention scores
    ("bhlm,bhmd->bhld", (2, 3, 5, 7), (2, 3, 7, 4)),
    ("ij,jk->ik", (6, 4), (4, 5)),
    ("ij,jk->i", (6, 4), (4, 5)),               # k summed away first
    ("ij,ij->ij", (6, 4), (6, 4)),              # elementwise: no MACs
    ("i,j->ij", (6,), (4,)),                    # outer product
    ("bij,bjk", (2, 3, 4), (2, 4, 5)),          # implicit output
]


@pytest.mark.parametrize("equation,x,other", CASES)
def test_einsum_macs_equal_flop_counter(equation, x, other):
    model = Einsum(equation, other)
    with torch.device("meta"), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.empty(x))
    node = next(n for n in trace(model, x).nodes if n.kind == "einsum")
    assert 2 * cost_of(node).macs == counter.get_total_flops()


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk,kl->il", [(3, 4), (4, 4), (4, 4)]),
    ("...ij,jk->...ik", [(2, 5, 3, 4), (4, 6)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 5, 8), (2, 3, 7, 8)]),
])
def test_einsum_beyond_two_plain_operands_is_costed_from_what_runs(equation, shapes):
    """Ellipsis and three operands are costed from the aten products torch runs: MACs equal
    FlopCounterMode / 2, and nothing is left unrecorded."""
    class Many(nn.Module):
        def forward(self, x):
            return torch.einsum(equation, x, *(x.new_empty(s) for s in shapes[1:]))

    with torch.device("meta"), torch.no_grad(), FlopCounterMode(display=False) as counter:
        Many()(torch.empty(shapes[0]))
    graph = trace(Many(), shapes[0])
    assert graph.unrecorded_ops == {}
    assert 2 * sum(cost_of(n).macs for n in graph.nodes) == counter.get_total_flops() > 0
