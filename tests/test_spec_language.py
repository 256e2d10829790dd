"""The spec language, feature by feature, on small inline specs written to tmp_path.

Each resolved spec is also built (meta device) and run with forward hooks, so every
feature is checked twice: against the expected names/shapes/parameter counts written
here by hand, and against what torch actually instantiates and computes.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from paramscope.api import build, resolve_spec
from paramscope.building.builder import module_from_resolved
from paramscope.building.modules import Chain, Residual
from paramscope.errors import ParamscopeError, SpecError
from paramscope.spec.document import parse_file
from paramscope.spec.emit import emit
from paramscope.spec.library import builtin_files, resolve_import

BUILTINS = sorted(n for n, p in builtin_files().items()
                  if not parse_file(str(p), resolve_import).is_library)


# -- helpers ------------------------------------------------------------------------

def calls(resolved) -> list[tuple[str, str, tuple]]:
    """(name, kind, out_shape) of each layer call, residual adds included."""
    return [(n.name, n.kind, n.out_shape) for n in resolved.graph.nodes]


def names(resolved) -> list[str]:
    return [n.name for n in resolved.graph.nodes if n.kind != "add"]


def params(resolved) -> int:
    return sum(p.numel for n in resolved.graph.nodes if n.counts_params for p in n.params.values())


def torch_check(resolved) -> nn.Module:
    """Build on meta, run with hooks; the graph must be what torch does. Returns the model."""
    model = module_from_resolved(resolved, "meta").eval()
    seen, handles = [], []
    for qualname, module in model.named_modules():
        if not isinstance(module, (Chain, Residual)):  # leaves (an empty Chain is no leaf)
            handles.append(module.register_forward_hook(
                lambda m, i, o, q=qualname: seen.append((q, type(m).__name__, tuple(o.shape)))))
    with torch.no_grad():
        out = model(torch.empty(resolved.input_shape, device="meta"))
    for h in handles:
        h.remove()
    assert [(n.name, n.kind, n.out_shape) for n in resolved.graph.nodes if n.kind != "add"] == seen
    assert tuple(out.shape) == resolved.root.out_shape
    assert sum(p.numel() for p in model.parameters()) == params(resolved)
    return model


@pytest.fixture
def resolve(write_spec):
    """resolve(text, **kw): write the spec to tmp_path, resolve it, check it against torch."""

    def run(text: str, name: str = "spec.yaml", overrides=None, input_shape=None, check=True):
        path = write_spec(text, name)
        resolved = resolve_spec(str(path), overrides, input_shape)
        if check:
            torch_check(resolved)
        return resolved

    return run


def error_of(write_spec, text: str, name: str = "spec.yaml", **kw) -> str:
    path = write_spec(text, name)
    with pytest.raises(ParamscopeError) as info:
        resolve_spec(str(path), **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- templates -------------------------------------------------------------------------

TEMPLATES = """
name: t
input: [3, 32, 32]
params: {w: 8}
templates:
  cbr:
    description: conv, bn, relu
    params: {c: ~, s: 1, k: "${3 if s == 1 else 5}"}
    layers:
      - conv: {name: conv, out_channels: "${c}", kernel_size: "${k}", stride: "${s}", padding: "${k // 2}", bias: false}
      - bn: {name: bn}
      - relu: {name: relu}
  one:
    params: {c: ~}
    layers:
      - conv: {out_channels: "${c}", kernel_size: 1}
"""


def test_template_required_and_default_params(resolve):
    r = resolve(TEMPLATES + """
layers:
  - use: cbr
    with: {c: "${w}"}
  - use: cbr
    name: down
    with: {c: "${w * 2}", s: 2}
""")
    assert calls(r) == [
        ("conv", "Conv2d", (1, 8, 32, 32)), ("bn", "BatchNorm2d", (1, 8, 32, 32)),
        ("relu", "ReLU", (1, 8, 32, 32)),
        ("down.conv", "Conv2d", (1, 16, 16, 16)), ("down.bn", "BatchNorm2d", (1, 16, 16, 16)),
        ("down.relu", "ReLU", (1, 16, 16, 16)),
    ]
    by_name = {n.name: n for n in r.graph.nodes}
    # a default may depend on earlier parameters: k = 5 when s = 2, padding k // 2
    assert by_name["conv"].hparams["kernel_size"] == (3, 3)
    assert by_name["down.conv"].hparams["kernel_size"] == (5, 5)
    assert by_name["down.conv"].hparams["padding"] == (2, 2)
    assert params(r) == 3 * 8 * 9 + 16 + 8 * 16 * 25 + 32
    assert r.params == {"w": 8}


def test_template_missing_required_param(write_spec):
    message = error_of(write_spec, TEMPLATES + "layers:\n  - use: cbr\n")
    assert "template 'cbr' needs a value for parameter 'c'" in message
    assert "spec.yaml:17:" in message and "layers[0].use" in message


def test_template_unknown_param_suggests(write_spec):
    message = error_of(write_spec, TEMPLATES + "layers:\n  - use: cbr\n    with: {c: 4, ss: 2}\n")
    assert "template 'cbr' has no parameter 'ss'" in message
    assert "did you mean s" in message and "parameters: c, s, k" in message


def test_template_param_sees_the_incoming_shape(resolve):
    r = resolve("""
name: t
input: [6, 8, 8]
templates:
  same_width:
    params: {c: "${in_channels * 2}", h: "${in_shape[1]}"}
    layers:
      - conv: {out_channels: "${c}", kernel_size: "${h}"}
layers:
  - use: same_width
""")
    assert calls(r) == [("0", "Conv2d", (1, 12, 1, 1))]


def test_use_single_layer_takes_the_name(resolve):
    r = resolve(TEMPLATES + """
layers:
  - use: one
    name: proj
    with: {c: 4}
  - use: one
    with: {c: 5}
""")
    assert names(r) == ["proj", "1"]
    model = torch_check(r)
    assert isinstance(model.proj, nn.Conv2d)  # no wrapper chain around a one-layer template


def test_use_multi_layer_splices_without_a_name(resolve):
    r = resolve(TEMPLATES + """
layers:
  - relu: {name: first}
  - use: cbr
    with: {c: 4}
  - use: one
    with: {c: 2}
""")
    # spliced: the template's layers become siblings; the unnamed one takes the next index
    assert names(r) == ["first", "conv", "bn", "relu", "4"]
    assert r.graph.modules[""] == "Sequential" and set(r.graph.modules) == {"", "first", "conv", "bn", "relu", "4"}


def test_use_multi_layer_with_name_makes_a_chain(resolve):
    r = resolve(TEMPLATES + """
layers:
  - use: cbr
    name: stem
    with: {c: 4}
""")
    assert names(r) == ["stem.conv", "stem.bn", "stem.relu"]
    assert r.graph.modules["stem"] == "Cbr"  # the template names the built class
    assert type(torch_check(r).stem).__name__ == "Cbr"
    assert list(dict(torch_check(r).stem.named_children())) == ["conv", "bn", "relu"]


def test_top_level_use_with(resolve):
    r = resolve(TEMPLATES.replace("params: {w: 8}\n", "") + "use: cbr\nwith: {c: 7, s: 2}\n")
    assert calls(r)[-1] == ("relu", "ReLU", (1, 7, 16, 16))
    assert r.params == {"c": 7, "s": 2, "k": 5}
    assert resolve_spec(str(r.file), {"c": 3}).root.out_shape == (1, 3, 16, 16)


def test_template_nesting_and_use_by_expression(resolve):
    r = resolve("""
name: t
input: [4, 8, 8]
params: {kind: double}
templates:
  single:
    params: {c: ~}
    layers: [{conv: {name: c, out_channels: "${c}", kernel_size: 1}}]
  double:
    params: {c: ~}
    layers:
      - use: single
        name: a
        with: {c: "${c}"}
      - use: single
        name: b
        with: {c: "${c * 2}"}
layers:
  - use: "${kind}"
    name: blk
    with: {c: 3}
""")
    assert calls(r) == [("blk.a", "Conv2d", (1, 3, 8, 8)), ("blk.b", "Conv2d", (1, 6, 8, 8))]
    r2 = resolve_spec(r.file, {"kind": "single"})
    assert calls(r2) == [("blk", "Conv2d", (1, 3, 8, 8))]


def test_recursive_template_is_stopped(write_spec):
    message = error_of(write_spec, """
name: t
input: [4, 8, 8]
templates:
  loop:
    layers: [{use: loop}, relu]
layers: [{use: loop}]
""")
    assert "templates nest deeper than 32" in message and "recursive" in message


# -- imports ---------------------------------------------------------------------------

LIB = """
description: a library
templates:
  widen:
    params: {factor: 2}
    layers:
      - conv: {name: conv, out_channels: "${in_channels * factor}", kernel_size: 1}
      - relu: {name: relu}
"""


def test_import_relative_path(write_spec, resolve):
    write_spec(LIB, "lib/blocks.yaml")
    r = resolve("""
name: t
input: [4, 8, 8]
import: [lib/blocks.yaml]
layers:
  - use: widen
    name: w
    with: {factor: 3}
""", "nets/../net.yaml")
    assert calls(r) == [("w.conv", "Conv2d", (1, 12, 8, 8)), ("w.relu", "ReLU", (1, 12, 8, 8))]


def test_import_relative_to_the_importing_file(write_spec, resolve):
    write_spec(LIB, "a/lib.yaml")
    write_spec("import: [lib.yaml]\ntemplates:\n  two:\n"
               "    layers: [{use: widen, name: a}, {use: widen, name: b}]\n", "a/mid.yaml")
    r = resolve("name: t\ninput: [1, 4, 4]\nimport: [a/mid.yaml]\nlayers: [{use: two}]\n")
    # transitive: widen comes from a/lib.yaml (relative to a/mid.yaml, not to this spec)
    assert calls(r) == [("a.conv", "Conv2d", (1, 2, 4, 4)), ("a.relu", "ReLU", (1, 2, 4, 4)),
                        ("b.conv", "Conv2d", (1, 4, 4, 4)), ("b.relu", "ReLU", (1, 4, 4, 4))]


def test_import_builtin_by_name(resolve):
    r = resolve("""
name: t
input: [64, 56, 56]
import: [resnet-blocks]
layers:
  - use: bottleneck
    name: block
    with: {planes: 64, stride: 2}
""")
    assert params(r) == 75_008  # torchvision layer2-style bottleneck from 64 channels
    assert r.root.out_shape == (1, 256, 28, 28)
    assert "block.downsample.0" in names(r)


def test_import_as_single_string(resolve):
    r = resolve("name: t\ninput: [64, 8, 8]\nimport: resnet-blocks\nlayers: [{use: basic_block, with: {planes: 64}}]\n")
    assert r.root.out_shape == (1, 64, 8, 8)


def test_import_cycle_is_an_error(write_spec):
    write_spec("import: [b.yaml]\ntemplates:\n  ta: {layers: [relu]}\n", "a.yaml")
    write_spec("import: [a.yaml]\ntemplates:\n  tb: {layers: [relu]}\n", "b.yaml")
    message = error_of(write_spec, "name: t\ninput: [3]\nimport: [a.yaml]\nlayers: [{use: ta}]\n")
    assert "import cycle" in message and "b.yaml:1" in message


def test_self_import_is_an_error(write_spec):
    message = error_of(write_spec, "name: t\ninput: [3]\nimport: [spec.yaml]\nlayers: [relu]\n")
    assert "import cycle" in message and "spec.yaml:3" in message


def test_diamond_import_is_fine(write_spec, resolve):
    write_spec(LIB, "base.yaml")
    write_spec("import: [base.yaml]\ntemplates:\n  l: {layers: [{use: widen}]}\n", "left.yaml")
    write_spec("import: [base.yaml]\ntemplates:\n  r: {layers: [{use: widen}]}\n", "right.yaml")
    r = resolve("name: t\ninput: [2, 4, 4]\nimport: [left.yaml, right.yaml]\n"
                "layers: [{use: l, name: a}, {use: r, name: b}]\n")
    assert r.root.out_shape == (1, 8, 4, 4)


def test_conflicting_template_names_from_two_imports(write_spec):
    write_spec("templates:\n  x: {layers: [relu]}\n", "one.yaml")
    write_spec("templates:\n  x: {layers: [tanh]}\n", "two.yaml")
    message = error_of(write_spec, "name: t\ninput: [3]\nimport: [one.yaml, two.yaml]\nlayers: [{use: x}]\n")
    assert "template 'x' is defined by both" in message


def test_library_cannot_be_resolved_alone(write_spec):
    path = write_spec(LIB, "lib.yaml")
    with pytest.raises(SpecError, match="template library"):
        resolve_spec(str(path))


# -- repeat ----------------------------------------------------------------------------

def test_repeat_index_with_first(resolve):
    r = resolve("""
name: t
input: [3, 32, 32]
layers:
  - repeat:
      times: 3
      index: k
      with: {c: "${8 * (k + 1)}", s: 1}
      first: {s: 2}
      layers:
        - conv: {name: "conv${k}", out_channels: "${c}", kernel_size: 3, stride: "${s}", padding: 1}
""")
    assert calls(r) == [("conv0", "Conv2d", (1, 8, 16, 16)), ("conv1", "Conv2d", (1, 16, 16, 16)),
                        ("conv2", "Conv2d", (1, 24, 16, 16))]


def test_repeat_default_index_and_unnamed_layers(resolve):
    r = resolve("""
name: t
input: [2, 4, 4]
params: {n: 4}
layers:
  - repeat:
      times: "${n}"
      layers:
        - conv: {out_channels: "${2 + i}", kernel_size: 1}
        - relu
""")
    assert [(n.name, n.out_shape[1]) for n in r.graph.nodes] == [
        (str(j), 2 + j // 2) for j in range(8)]
    assert names(resolve_spec(r.file, {"n": 1})) == ["0", "1"]


def test_repeat_zero_times(resolve):
    r = resolve("name: t\ninput: [2, 4, 4]\nlayers:\n  - relu\n  - repeat: {times: 0, layers: [tanh]}\n")
    assert calls(r) == [("0", "ReLU", (1, 2, 4, 4))]


def test_nested_repeat_sees_outer_index(resolve):
    r = resolve("""
name: t
input: [1, 4, 4]
layers:
  - repeat:
      times: 2
      index: s
      layers:
        - sequential:
            name: "stage${s + 1}"
            layers:
              - repeat:
                  times: "${s + 1}"
                  index: b
                  layers:
                    - conv: {name: "c${b}", out_channels: "${10 * s + b + 1}", kernel_size: 1}
""")
    assert [(n.name, n.out_shape[1]) for n in r.graph.nodes] == [
        ("stage1.c0", 1), ("stage2.c0", 11), ("stage2.c1", 12)]


def test_repeat_first_needs_a_known_variable(write_spec):
    message = error_of(write_spec, "name: t\ninput: [1]\nlayers:\n"
                       "  - repeat: {times: 2, first: {strid: 2}, with: {stride: 1}, layers: [relu]}\n")
    assert "'strid'" in message and "did you mean stride" in message


# -- when ------------------------------------------------------------------------------

WHEN = """
name: t
input: [3, 8, 8]
params: {extra: false, bn: true}
layers:
  - conv: {out_channels: 4, kernel_size: 1}
  - bn: {when: "${bn}"}
  - relu: {when: "${extra}"}
  - sequential:
      name: head
      when: "${not extra}"
      layers: [{conv: {out_channels: 2, kernel_size: 1}}]
  - tanh: {when: false}
"""


def test_when_drops_layers(resolve):
    r = resolve(WHEN)
    assert calls(r) == [("0", "Conv2d", (1, 4, 8, 8)), ("1", "BatchNorm2d", (1, 4, 8, 8)),
                        ("head.0", "Conv2d", (1, 2, 8, 8))]


def test_when_with_overrides(resolve, write_spec):
    path = write_spec(WHEN)
    r = resolve_spec(str(path), {"extra": True, "bn": False})
    torch_check(r)
    # dropped layers take no index: the relu is the second module
    assert calls(r) == [("0", "Conv2d", (1, 4, 8, 8)), ("1", "ReLU", (1, 4, 8, 8))]


def test_when_must_be_boolean(write_spec):
    message = error_of(write_spec, "name: t\ninput: [3]\nlayers:\n  - relu: {when: 'yes'}\n")
    assert "when must be true or false, got 'yes'" in message and "layers[0]" in message


def test_when_as_item_key_and_argument_key(resolve):
    r = resolve("name: t\ninput: [3, 2, 2]\nlayers:\n  - relu:\n    when: false\n  - tanh: {when: true}\n")
    assert calls(r) == [("0", "Tanh", (1, 3, 2, 2))]


# -- residual --------------------------------------------------------------------------

RESIDUAL = """
name: t
input: [4, 8, 8]
layers:
  - residual:
      name: ident
      body: [{conv: {name: c, out_channels: 4, kernel_size: 3, padding: 1}}]
  - residual:
      name: explicit
      body: [{conv: {name: c, out_channels: 4, kernel_size: 3, padding: 1}}]
      shortcut: identity
      activation: relu
  - residual:
      name: listed
      body: [{conv: {name: c, out_channels: 8, kernel_size: 3, padding: 1, stride: 2}}]
      shortcut: [{conv: {out_channels: 8, kernel_size: 1, stride: 2}}, bn]
  - residual:
      name: mapped
      body:
        name: main
        layers: [{conv: {out_channels: 16, kernel_size: 1}}]
      shortcut:
        name: proj
        layers: [{conv: {out_channels: 16, kernel_size: 1}}]
      activation: {relu: {name: act, inplace: true}}
  - residual:
      name: skipped
      body: [{conv: {name: c, out_channels: 16, kernel_size: 1}}]
      shortcut:
        name: proj
        when: false
        layers: [{conv: {out_channels: 16, kernel_size: 1}}]
"""


def test_residual_shortcut_forms(resolve):
    r = resolve(RESIDUAL)
    assert calls(r) == [
        ("ident.c", "Conv2d", (1, 4, 8, 8)), ("ident", "add", (1, 4, 8, 8)),
        ("explicit.c", "Conv2d", (1, 4, 8, 8)), ("explicit", "add", (1, 4, 8, 8)),
        ("explicit.relu", "ReLU", (1, 4, 8, 8)),
        ("listed.c", "Conv2d", (1, 8, 4, 4)),
        ("listed.shortcut.0", "Conv2d", (1, 8, 4, 4)), ("listed.shortcut.1", "BatchNorm2d", (1, 8, 4, 4)),
        ("listed", "add", (1, 8, 4, 4)),
        ("mapped.main.0", "Conv2d", (1, 16, 4, 4)), ("mapped.proj.0", "Conv2d", (1, 16, 4, 4)),
        ("mapped", "add", (1, 16, 4, 4)), ("mapped.act", "ReLU", (1, 16, 4, 4)),
        ("skipped.c", "Conv2d", (1, 16, 4, 4)), ("skipped", "add", (1, 16, 4, 4)),
    ]
    model = torch_check(r)
    assert "proj" not in dict(model.skipped.named_children())
    assert model.mapped.act.inplace is True


def test_residual_computes_body_plus_shortcut(write_spec):
    path = write_spec(RESIDUAL)
    torch.manual_seed(0)
    model = build(str(path)).eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        y = model.ident.c(x) + x
        assert torch.allclose(model.ident(x), y)
        y = torch.relu(model.explicit.c(y) + y)
        assert torch.allclose(model.explicit(model.ident(x)), y)
        z = model.listed.c(y) + model.listed.shortcut(y)
        assert torch.allclose(model.listed(y), z)


def test_residual_shape_mismatch_names_both_shapes(write_spec):
    message = error_of(write_spec, "name: t\ninput: [4, 8, 8]\nlayers:\n  - relu\n  - residual:\n"
                       "      body: [{conv: {out_channels: 8, kernel_size: 1}}]\n")
    assert "spec.yaml:5: layers[1]:" in message
    assert "body gives 8×8×8 but the shortcut gives 4×8×8" in message


# -- shared names ------------------------------------------------------------------------

def test_same_spec_same_name_is_one_module_called_twice(resolve):
    r = resolve("""
name: t
input: [4, 8, 8]
layers:
  - conv: {name: c, out_channels: 4, kernel_size: 3, padding: 1}
  - relu: {name: act}
  - conv: {name: c, out_channels: 4, kernel_size: 3, padding: 1}
  - relu: {name: act}
""")
    assert [(n.name, n.call_index) for n in r.graph.nodes] == [("c", 0), ("act", 0), ("c", 1), ("act", 1)]
    assert params(r) == 4 * 4 * 9 + 4  # counted once
    model = torch_check(r)
    assert list(dict(model.named_children())) == ["c", "act"]


def test_shared_activation_across_residual_body_and_output(resolve):
    r = resolve("""
name: t
input: [4, 8, 8]
layers:
  - residual:
      name: b
      body: [{conv: {name: c, out_channels: 4, kernel_size: 1}}, {relu: {name: relu}}]
      activation: {relu: {name: relu}}
""")
    assert [(n.name, n.call_index) for n in r.graph.nodes] == [("b.c", 0), ("b.relu", 0), ("b", 0), ("b.relu", 1)]


def test_same_name_different_spec_is_an_error(write_spec):
    message = error_of(write_spec, """
name: t
input: [4, 8, 8]
layers:
  - relu: {name: act}
  - relu: {name: act, inplace: true}
""")
    assert "spec.yaml:5: layers[1]:" in message
    assert "name 'act' is already used in this block by layers[0].relu" in message


def test_same_name_at_different_depths_is_fine(resolve):
    r = resolve("""
name: t
input: [4, 8, 8]
layers:
  - relu: {name: act}
  - sequential: {name: inner, layers: [{tanh: {name: act}}]}
""")
    assert names(r) == ["act", "inner.act"]


def test_container_name_reused_is_an_error(write_spec):
    message = error_of(write_spec, "name: t\ninput: [4]\nlayers:\n  - sequential: {name: s, layers: [relu]}\n"
                       "  - sequential: {name: s, layers: [relu]}\n")
    assert "name 's' is already used" in message and "layers[1]" in message


# -- expressions -------------------------------------------------------------------------

def test_expressions_arithmetic_interpolation_conditionals(resolve):
    r = resolve("""
name: t
input: [8, 16, 16]
params: {planes: 4, stages: [1, 2], deep: true}
layers:
  - conv: {name: "expand${planes * 4}", out_channels: "${planes * 4}", kernel_size: 1}
  - conv: {name: "layer${stages[1] + 1}", out_channels: "${max(planes, 6) if deep else 1}", kernel_size: "${len(stages) + 1}", padding: "${abs(-1)}"}
  - conv: {name: "x${deep}", out_channels: "${int(planes / 2) + round(0.6) + min(stages)}", kernel_size: 1}
""")
    assert calls(r) == [("expand16", "Conv2d", (1, 16, 16, 16)), ("layer3", "Conv2d", (1, 6, 16, 16)),
                        ("xtrue", "Conv2d", (1, 4, 16, 16))]


def test_expression_in_list_values_and_pairs(resolve):
    r = resolve("name: t\ninput: [2, 10, 12]\nparams: {k: 3}\nlayers:\n"
                "  - conv: {out_channels: 2, kernel_size: ['${k}', '${k + 2}'], stride: '${[1, 2]}'}\n")
    assert calls(r) == [("0", "Conv2d", (1, 2, 8, 4))]
    assert r.graph.nodes[0].hparams["kernel_size"] == (3, 5)


def test_expression_unknown_name_lists_known_names(write_spec):
    message = error_of(write_spec, "name: t\ninput: [3, 4, 4]\nparams: {planes: 4}\nlayers:\n"
                       "  - conv: {out_channels: '${plane * 2}', kernel_size: 1}\n")
    assert "unknown name 'plane'" in message and "did you mean planes" in message
    assert "spec.yaml:5:" in message and "out_channels" in message


def test_set_overrides_param_values(write_spec):
    path = write_spec("name: t\ninput: [3, 4, 4]\nparams: {c: 2, d: '${c * 3}'}\nlayers:\n"
                      "  - conv: {out_channels: '${d}', kernel_size: 1}\n")
    assert resolve_spec(str(path)).root.out_shape == (1, 6, 4, 4)
    assert resolve_spec(str(path), {"c": 5}).root.out_shape == (1, 15, 4, 4)  # d follows c
    assert resolve_spec(str(path), {"d": 7}).root.out_shape == (1, 7, 4, 4)


# -- layer kinds -------------------------------------------------------------------------

def test_padding_same_groups_dilation_ceil_mode(resolve):
    r = resolve("""
name: t
input: [8, 15, 15]
layers:
  - conv: {out_channels: 16, kernel_size: 3, padding: same, dilation: 2, groups: 4}
  - conv: {out_channels: 16, kernel_size: 3, dilation: 3, groups: 16, bias: false}
  - maxpool: {kernel_size: 2, stride: 2, ceil_mode: true}
  - maxpool: {kernel_size: 3, stride: 2, padding: 1, dilation: 2}
  - avgpool: {kernel_size: 2, ceil_mode: true, count_include_pad: false}
  - conv: {out_channels: 4, kernel_size: 1, padding: valid}
""")
    assert calls(r) == [
        ("0", "Conv2d", (1, 16, 15, 15)),   # same
        ("1", "Conv2d", (1, 16, 9, 9)),     # 15 - 3·2
        ("2", "MaxPool2d", (1, 16, 5, 5)),  # ceil(9/2)
        ("3", "MaxPool2d", (1, 16, 2, 2)),
        ("4", "AvgPool2d", (1, 16, 1, 1)),
        ("5", "Conv2d", (1, 4, 1, 1)),
    ]
    assert [p.shape for p in r.graph.nodes[0].params.values()] == [(16, 2, 3, 3), (16,)]
    assert [p.shape for p in r.graph.nodes[1].params.values()] == [(16, 1, 3, 3)]


def test_ceil_mode_window_starting_in_padding_is_dropped(resolve):
    # torch drops the last window when it would start in the right padding
    r = resolve("name: t\ninput: [1, 5, 5]\nlayers:\n"
                "  - maxpool: {kernel_size: 3, stride: 3, padding: 1, ceil_mode: true}\n"
                "  - avgpool: {kernel_size: 2, stride: 2, ceil_mode: true}\n")
    assert [n.out_shape for n in r.graph.nodes] == [(1, 1, 2, 2), (1, 1, 1, 1)]


def test_bn_after_linear_is_batchnorm1d(resolve):
    r = resolve("""
name: t
input: [4, 3, 3]
layers:
  - bn
  - flatten
  - linear: {out_features: 10}
  - bn: {momentum: null, eps: 0.001}
  - dropout: {p: 0.2}
  - linear: {out_features: 3, bias: false}
""")
    assert [(n.kind, n.out_shape) for n in r.graph.nodes] == [
        ("BatchNorm2d", (1, 4, 3, 3)), ("Flatten", (1, 36)), ("Linear", (1, 10)),
        ("BatchNorm1d", (1, 10)), ("Dropout", (1, 10)), ("Linear", (1, 3))]
    model = torch_check(r)
    bn = model.get_submodule("3")
    assert isinstance(bn, nn.BatchNorm1d) and bn.momentum is None and bn.eps == 0.001
    assert params(r) == 8 + 36 * 10 + 10 + 20 + 30


def test_feature_input_and_other_kinds(resolve):
    r = resolve("""
name: t
input: [12]
layers:
  - linear: {out_features: 8}
  - layernorm
  - gelu: {approximate: tanh}
  - leaky_relu: {negative_slope: 0.2}
  - groupnorm: {num_groups: 2}
  - silu
  - softmax: {dim: -1}
""")
    assert [n.out_shape for n in r.graph.nodes] == [(1, 8)] * 7
    assert params(r) == 12 * 8 + 8 + 16 + 16  # linear, layernorm(8), groupnorm(8)


def test_adaptive_pool_and_layernorm_on_images(resolve):
    r = resolve("name: t\ninput: [3, 9, 7]\nlayers:\n  - adaptive_avgpool: {output_size: [2, 3]}\n"
                "  - adaptive_maxpool\n  - layernorm: {normalized_shape: [3, 1, 1]}\n"
                "  - flatten: {start_dim: 2}\n")
    assert [n.out_shape for n in r.graph.nodes] == [(1, 3, 2, 3), (1, 3, 1, 1), (1, 3, 1, 1), (1, 3, 1)]


def test_explicit_in_channels_must_match(write_spec, resolve):
    r = resolve("name: t\ninput: [3, 4, 4]\nlayers:\n  - conv: {in_channels: 3, out_channels: 2, kernel_size: 1}\n")
    assert r.root.out_shape == (1, 2, 4, 4)
    message = error_of(write_spec, "name: t\ninput: [3, 4, 4]\nlayers:\n"
                       "  - conv: {in_channels: 4, out_channels: 2, kernel_size: 1}\n")
    assert "in_channels is 4 but the incoming tensor has 3" in message


def test_string_layer_shorthand_and_null_args(resolve):
    r = resolve("name: t\ninput: [3, 4, 4]\nlayers:\n  - relu\n  - identity:\n  - sigmoid: {}\n")
    assert [n.kind for n in r.graph.nodes] == ["ReLU", "Identity", "Sigmoid"]


def test_batch_dimension(write_spec):
    path = write_spec("name: t\ninput: [3, 4, 4]\nlayers: [{conv: {out_channels: 2, kernel_size: 3}}]\n")
    r = resolve_spec(str(path), batch=5)
    assert r.input_shape == (5, 3, 4, 4) and r.root.out_shape == (5, 2, 2, 2)
    torch_check(r)


# -- show round-trips ----------------------------------------------------------------------

def signature(resolved, batch: bool = True) -> list[tuple]:
    """Everything the graph says about each call (batch dimension optional)."""
    cut = (lambda s: s) if batch else (lambda s: s[1:])
    return [(n.name, n.kind, dict(n.hparams), tuple(cut(s) for s in n.in_shapes), cut(n.out_shape),
             {k: v.shape for k, v in n.params.items()}, {k: v.shape for k, v in n.buffers.items()},
             n.call_index) for n in resolved.graph.nodes]


def round_trip(cli, tmp_path, *args: str):
    result = cli("show", *args)
    assert result.code == 0, result.err
    assert result.err == ""
    path = tmp_path / "shown.yaml"
    path.write_text(result.out, encoding="utf-8")
    again = cli("show", str(path))
    assert again.code == 0, again.err
    return result.out, resolve_spec(str(path)), again.out


@pytest.mark.parametrize("name", BUILTINS)
def test_show_round_trips_every_builtin(name, cli, tmp_path):
    text, shown, again = round_trip(cli, tmp_path, name)
    original = resolve_spec(name)
    assert signature(shown) == signature(original)
    # show writes template instances out as plain blocks: the same modules, a template's
    # container class (Bottleneck) becoming the generic Residual / Sequential
    assert shown.graph.modules.keys() == original.graph.modules.keys()
    for module, kind in original.graph.modules.items():
        assert shown.graph.modules[module] in (kind, "Residual", "Sequential"), module
    assert shown.input_shape == original.input_shape
    assert shown.name == original.name and shown.description == original.description
    # and show of the shown spec prints the same layers again (a fixed point)
    assert text.split("\n", 2)[2] == again.split("\n", 2)[2]
    assert f"# {name}: resolved from" in text


@pytest.mark.parametrize("args", [
    ("cifar-resnet", "--set", "blocks=3"),
    ("resnet50", "--set", "groups=32", "--set", "width_per_group=4"),
    ("resnet18", "--input", "3x96x128", "--batch", "2"),
    ("vgg11", "--set", "batch_norm=true", "--set", "num_classes=10"),
    ("basic-block", "--set", "stride=2", "--set", "planes=128"),
])
def test_show_round_trips_with_overrides(args, cli, tmp_path):
    text, shown, _ = round_trip(cli, tmp_path, *args)
    from paramscope.cli.options import parse_input, parse_sets
    sets = parse_sets([args[i + 1] for i, a in enumerate(args) if a == "--set"])
    original = resolve_spec(args[0], sets)
    if "--input" in args:
        shape = parse_input(args[args.index("--input") + 1], original.input_shape,
                            int(args[args.index("--batch") + 1]))
        original = resolve_spec(args[0], sets, shape)
        assert "# batch 2" in text
    assert signature(shown, batch=False) == signature(original, batch=False)


def test_show_round_trips_language_features(cli, tmp_path, write_spec):
    path = write_spec(RESIDUAL)
    _, shown, _ = round_trip(cli, tmp_path, str(path))
    assert signature(shown) == signature(resolve_spec(str(path)))
    path = write_spec(TEMPLATES + "layers:\n  - use: cbr\n    with: {c: 4}\n  - use: cbr\n    name: b\n"
                      "    with: {c: 8, s: 2}\n  - use: one\n    with: {c: 2}\n", "t.yaml")
    _, shown, _ = round_trip(cli, tmp_path, str(path))
    assert signature(shown) == signature(resolve_spec(str(path)))


def test_show_marks_every_layer_with_name_and_shape(cli):
    result = cli("show", "bottleneck-projection")
    assert result.code == 0
    assert "  # block.conv_shortcut.0 -> 128×28×28" in result.out
    assert "  # block -> 128×28×28" in result.out
    assert "# parameters: none" in result.out


def test_emit_is_deterministic():
    assert emit(resolve_spec("resnet18")) == emit(resolve_spec("resnet18"))


# -- round-trip regressions (defects this suite found in emit.py / resolve.py) ---------------

@pytest.mark.parametrize("value", ["1.0e-6", ".inf"])
def test_show_round_trips_float_arguments(value, cli, tmp_path, write_spec):
    path = write_spec(f"name: t\ninput: [3, 4, 4]\nlayers:\n  - conv: {{out_channels: 4, kernel_size: 1}}\n"
                      f"  - bn: {{eps: {value}}}\n")
    _, shown, _ = round_trip(cli, tmp_path, str(path))
    assert signature(shown) == signature(resolve_spec(str(path)))


@pytest.mark.parametrize("layer_name", ["True", "Off", "NULL", "1_0", "0x1F"])
def test_show_round_trips_yaml_lookalike_names(layer_name, cli, tmp_path, write_spec):
    path = write_spec(f"name: t\ninput: [3, 4, 4]\nlayers:\n  - relu: {{name: '{layer_name}'}}\n")
    assert names(resolve_spec(str(path))) == [layer_name]
    _, shown, _ = round_trip(cli, tmp_path, str(path))
    assert names(shown) == [layer_name]


def test_show_round_trips_empty_stage(cli, tmp_path):
    _, shown, _ = round_trip(cli, tmp_path, "cifar-resnet", "--set", "blocks=0")
    assert signature(shown) == signature(resolve_spec("cifar-resnet", {"blocks": 0}))


def test_unnamed_multi_layer_shortcut_runs_every_layer(write_spec):
    path = write_spec("""
name: t
input: [3, 8, 8]
layers:
  - residual:
      name: r
      body: [{conv: {name: c, out_channels: 6, kernel_size: 3, padding: 1, stride: 2}}]
      shortcut: {name: null, layers: [{conv: {out_channels: 6, kernel_size: 1, stride: 2}}, bn]}
""")
    resolved = resolve_spec(str(path))
    assert [n.kind for n in resolved.graph.nodes] == ["Conv2d", "Conv2d", "BatchNorm2d", "add"]
    torch_check(resolved)  # the built Residual used to call only the first shortcut layer



def test_network_with_every_layer_dropped(cli, tmp_path, write_spec):
    path = write_spec("name: t\ninput: [3, 4, 4]\nparams: {n: 0}\nlayers:\n  - relu: {when: false}\n"
                      "  - repeat: {times: '${n}', layers: [tanh]}\n")
    result = cli("show", str(path))
    if result.code == 2:  # rejecting the empty network is a fix too
        assert result.err.startswith("paramscope: error: ") and result.err.count("\n") == 1
        return
    _, shown, _ = round_trip(cli, tmp_path, str(path))
    assert signature(shown) == signature(resolve_spec(str(path))) == []
