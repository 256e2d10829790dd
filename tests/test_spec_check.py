"""`check` items let templates reject parameter values they do not support."""

from __future__ import annotations

import pytest

from paramscope.api import resolve_spec
from paramscope.errors import SpecError

SPEC = """
name: t
input: [8, 4, 4]
params: {groups: 1}
templates:
  block:
    params: {groups: 1}
    layers:
      - check: {that: "${groups in [1, 2]}", message: "groups must be 1 or 2, got ${groups}"}
      - conv: {out_channels: 8, kernel_size: 1, groups: "${groups}"}
layers:
  - use: block
    name: b
    with: {groups: "${groups}"}
"""


def test_passing_check_makes_no_module_and_keeps_single_layer_naming(write_spec):
    resolved = resolve_spec(str(write_spec(SPEC)))
    assert [n.name for n in resolved.graph.nodes] == ["b"]  # the conv takes the instance's name


def test_failing_check_is_a_located_one_line_error(write_spec):
    with pytest.raises(SpecError) as err:
        resolve_spec(str(write_spec(SPEC)), {"groups": 4})
    text = str(err.value)
    assert "check failed: groups must be 1 or 2, got 4" in text and "spec.yaml:8:" in text


@pytest.mark.parametrize("overrides", [{"groups": 2}, {"width_per_group": 32}])
def test_basic_block_networks_reject_grouped_or_wider_blocks(cli, overrides):
    """As torchvision's BasicBlock: groups=1 and width_per_group=64 only, never silently ignored."""
    key, value = next(iter(overrides.items()))
    result = cli("summary", "resnet18", "--measure", "none", "--set", f"{key}={value}")
    assert result.code == 2 and "basic blocks support only groups=1" in result.err
    assert result.err.count("\n") == 1


def test_check_needs_a_boolean(write_spec):
    path = write_spec("name: t\ninput: [3, 4, 4]\nlayers:\n  - check: {that: 3}\n  - relu\n")
    with pytest.raises(SpecError, match="check needs that"):
        resolve_spec(str(path))
