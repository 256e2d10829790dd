"""Malformed specs and bad command lines: exit code 2, one line on stderr, no traceback,
and a message that says where (file, line, layer path) and what was expected.

Every case runs through the real CLI entry point (``paramscope.cli.main.main``) in this
process; a few also run as ``python -m paramscope`` in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAD = "name: bad\ninput: [3, 32, 32]\n"


@dataclass
class Case:
    id: str
    spec: str | bytes | None  # written to tmp_path/bad.yaml and passed as the target
    expect: list[str]  # substrings of the message
    args: tuple[str, ...] = ()  # extra CLI arguments (after the target for specs)
    line: int | None = None  # expected "bad.yaml:<line>:" location
    path: str | None = None  # expected layer path, e.g. "layers[1]"
    command: str = "show"
    extra_files: dict[str, str] = field(default_factory=dict)


def layers(*items: str) -> str:
    return HEAD + "layers:\n" + "".join(f"  - {item}\n" for item in items)


def billion_laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\nname: boom\ninput: [3]\nlayers: [relu]\n"


SPEC_CASES = [
    # -- YAML: only plain data, bounded ------------------------------------------------------
    Case("python-apply-tag", HEAD + "layers:\n  - !!python/object/apply:os.system ['touch {marker}']\n",
         ["YAML tag", "python/object/apply:os.system", "not allowed", "plain data only"], line=4),
    Case("python-name-tag", HEAD + "layers: [relu]\ndescription: !!python/name:os.system ''\n",
         ["YAML tag", "python/name:os.system", "not allowed"], line=4),
    Case("python-object-new-tag", HEAD + "params: {a: !!python/object/new:os.system [echo]}\nlayers: [relu]\n",
         ["python/object/new:os.system", "not allowed"], line=3),
    Case("custom-tag", HEAD + "layers: !include other.yaml\n", ["YAML tag", "!include", "not allowed"], line=3),
    Case("binary-tag", HEAD + "description: !!binary aGVsbG8=\nlayers: [relu]\n",
         ["YAML tag", "binary", "not allowed"], line=3),
    Case("set-tag-in-mapping", HEAD + "params: !!set {a, b}\nlayers: [relu]\n", ["YAML tag", "set", "not allowed"], line=3),
    Case("billion-laughs", billion_laughs(), ["more than 200,000 values", "aliases"]),
    Case("deep-flow-nesting", "layers: " + "[" * 10_000 + "]" * 10_000 + "\n", ["nests deeper than 64 levels"]),
    Case("deep-block-nesting", "layers:\n" + "".join("  " * i + "- \n" for i in range(1, 150)),
         ["nests deeper than 64 levels"], line=66),
    Case("deep-mapping-nesting", "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "x\n",
         ["nests deeper than 64 levels"]),
    Case("binary-file", bytes(range(256)) * 8, ["not UTF-8 text", "binary"]),
    Case("nul-bytes", b"name: x\x00\ninput: [3]\n", ["binary", "NUL"]),
    Case("empty-file", "", ["spec is empty", "expected a mapping with name, input and layers"]),
    Case("comment-only-file", "# nothing here\n\n", ["spec is empty"]),
    Case("huge-file", "name: x\ndescription: '" + "a" * 1_100_000 + "'\n", ["larger than 1,000,000 bytes"]),
    Case("scalar-root", "just a string\n", ["a spec must be a mapping", "got a str"]),
    Case("list-root", "- relu\n- tanh\n", ["a spec must be a mapping with name, input and layers"], line=1),
    Case("unclosed-bracket", HEAD + "layers: [relu\n", ["invalid YAML"]),
    Case("tab-indent", HEAD + "layers:\n\t- relu\n", ["invalid YAML", "'\\t'"], line=4),
    Case("duplicate-key", layers("conv: {out_channels: 4, kernel_size: 3, kernel_size: 5}"),
         ["duplicate key 'kernel_size'"], line=4),
    Case("duplicate-top-key", HEAD + "layers: [relu]\nlayers: [tanh]\n", ["duplicate key 'layers'"], line=4),
    Case("merge-key", "base: &b {x: 1}\nname: x\n<<: *b\n", ["merge keys (<<) are not supported"], line=3),
    Case("non-string-key", HEAD + "[1, 2]: x\nlayers: [relu]\n", ["mapping keys must be strings"], line=3),
    # -- document ------------------------------------------------------------------------------
    Case("unknown-top-level-key", HEAD + "layer: [relu]\n",
         ["unknown top-level key 'layer'", "did you mean layers?", "expected name, description, input"], line=3),
    Case("unknown-top-level-key-no-hint", HEAD + "foo: 1\nlayers: [relu]\n", ["unknown top-level key 'foo'"], line=3),
    Case("name-not-string", "name: [x]\ninput: [3]\nlayers: [relu]\n", ["name must be a string"], line=1),
    Case("layers-and-use", HEAD + "use: t\nlayers: [relu]\n", ["either layers or use"], line=3),
    Case("with-without-use", HEAD + "with: {a: 1}\nlayers: [relu]\n", ["'with' needs 'use'"], line=3),
    Case("layers-is-mapping", HEAD + "layers: {a: relu}\n", ["layers must be a list of layers"], line=3),
    Case("layers-empty", HEAD + "layers: []\n", ["layers must be a non-empty list"], line=3),
    Case("no-input", "name: x\nlayers: [relu]\n", ["no input shape", "input: [C, H, W]", "--input"], line=1),
    Case("input-zero", "name: x\ninput: [3, 0, 4]\nlayers: [relu]\n",
         ["input must be [C, H, W]", "positive integers", "[3, 0, 4]"], line=2, path="input"),
    Case("input-four-dims", "name: x\ninput: [1, 3, 4, 4]\nlayers: [relu]\n", ["input must be [C, H, W]"], line=2),
    Case("input-string", "name: x\ninput: 224\nlayers: [relu]\n", ["input must be [C, H, W]", "224"], line=2),
    Case("params-not-mapping", HEAD + "params: [a, b]\nlayers: [relu]\n", ["params must be a mapping"], line=3),
    Case("template-not-mapping", HEAD + "templates:\n  t: [relu]\nlayers: [relu]\n",
         ["template 't' must be a mapping with params and layers"], line=4),
    Case("template-unknown-key", HEAD + "templates:\n  t: {layer: [relu]}\nlayers: [relu]\n",
         ["template 't': unknown key 'layer'", "did you mean layers?"], line=4),
    Case("template-without-layers", HEAD + "templates:\n  t: {params: {a: 1}}\nlayers: [relu]\n",
         ["template 't': layers must be a non-empty list"]),
    Case("import-not-list", HEAD + "import: 5\nlayers: [relu]\n", ["import must be a list of spec names or paths"], line=3),
    Case("import-missing-file", HEAD + "import: [nowhere.yaml]\nlayers: [relu]\n",
         ["import 'nowhere.yaml'", "no such file", "nowhere.yaml"]),
    Case("import-unknown-builtin", HEAD + "import: [resnet-blokcs]\nlayers: [relu]\n",
         ["import 'resnet-blokcs'", "did you mean resnet-blocks"]),
    Case("import-cycle", HEAD + "import: [a.yaml]\nlayers: [relu]\n", ["import cycle", "a.yaml"],
         extra_files={"a.yaml": "import: [b.yaml]\ntemplates: {ta: {layers: [relu]}}\n",
                      "b.yaml": "import: [a.yaml]\ntemplates: {tb: {layers: [relu]}}\n"}),
    Case("library-as-target", "templates:\n  t: {layers: [relu]}\n", ["template library", "import it from a spec"]),
    # -- layers ----------------------------------------------------------------------------------
    Case("unknown-kind", layers("convv: {out_channels: 8, kernel_size: 3}"),
         ["unknown layer kind 'convv'", "did you mean conv?", "expected one of"], line=4, path="layers[0]"),
    Case("unknown-kind-string", layers("relu", "batchnorm"),
         ["unknown layer kind 'batchnorm'"], line=5, path="layers[1]"),
    Case("unknown-argument", layers("conv: {out_channels: 8, kernel_size: 3}", "conv: {out_chanels: 10, kernel_size: 3}"),
         ["conv has no argument 'out_chanels'", "did you mean out_channels", "arguments: in_channels, out_channels"],
         line=5, path="layers[1].conv"),
    Case("channels-as-words", layers("conv: {out_channels: sixty-four, kernel_size: 3}"),
         ["out_channels: expected a positive integer, got 'sixty-four'", "${...}"], line=4, path="layers[0].conv"),
    Case("fractional-channels", layers("conv: {out_channels: 63.5, kernel_size: 3}"),
         ["out_channels: expected a positive integer, got 63.5"], line=4, path="layers[0].conv"),
    Case("zero-channels", layers("conv: {out_channels: 0, kernel_size: 3}"),
         ["out_channels: expected a positive integer, got 0"], line=4, path="layers[0].conv"),
    Case("negative-channels", layers("relu", "conv: {out_channels: -4, kernel_size: 3}"),
         ["out_channels: expected a positive integer, got -4"], line=5, path="layers[1].conv"),
    Case("negative-kernel", layers("conv: {out_channels: 3, kernel_size: -3}"),
         ["kernel_size: expected a positive integer, got -3"], line=4),
    Case("zero-stride", layers("conv: {out_channels: 3, kernel_size: 1, stride: 0}"),
         ["stride: expected a positive integer, got 0"], line=4),
    Case("negative-padding", layers("conv: {out_channels: 3, kernel_size: 1, padding: -1}"),
         ["padding: expected a non-negative integer, got -1"], line=4),
    Case("kernel-triple", layers("conv: {out_channels: 3, kernel_size: [1, 2, 3]}"),
         ["kernel_size: expected one integer or a pair [h, w], got 3 values"], line=4),
    Case("bool-kernel", layers("conv: {out_channels: 3, kernel_size: true}"),
         ["kernel_size: expected a positive integer, got True"], line=4),
    Case("string-bias", layers("conv: {out_channels: 3, kernel_size: 1, bias: 'yes'}"),
         ["bias: expected true or false, got 'yes'"], line=4),
    Case("missing-required-argument", layers("conv: {kernel_size: 1}"), ["conv needs out_channels"], line=4,
         path="layers[0].conv"),
    Case("groups-not-dividing", layers("conv: {out_channels: 8, kernel_size: 3}", "conv: {out_channels: 10, kernel_size: 3, groups: 4}"),
         ["groups=4 must divide in_channels (8) and out_channels (10)"], line=5, path="layers[1]"),
    Case("input-shrinks-to-zero", layers("conv: {out_channels: 8, kernel_size: 3, stride: 2}", "maxpool: {kernel_size: 2}",
                                         "conv: {name: head, out_channels: 8, kernel_size: 9}"),
         ["spatial size reaches 0", "height 7 with kernel 9", "input is too small for this layer"],
         line=6, path="layers[2]"),
    Case("in-channels-mismatch", layers("conv: {in_channels: 4, out_channels: 8, kernel_size: 3}"),
         ["in_channels is 4 but the incoming tensor has 3 channels"], line=4, path="layers[0]"),
    Case("in-features-mismatch", layers("flatten", "linear: {in_features: 10, out_features: 3}"),
         ["in_features is 10 but the incoming tensor has 3072"], line=5, path="layers[1]"),
    Case("conv-after-flatten", layers("flatten", "conv: {out_channels: 3, kernel_size: 1}"),
         ["conv expects a C×H×W input, got 3072"], line=5, path="layers[1]"),
    Case("same-padding-strided", layers("conv: {out_channels: 3, kernel_size: 3, stride: 2, padding: same}"),
         ["padding 'same' is not supported for strided convolutions"], line=4),
    Case("padding-word", layers("conv: {out_channels: 3, kernel_size: 3, padding: full}"),
         ["padding: expected padding as an integer, [h, w], 'same' or 'valid', got 'full'"], line=4),
    Case("pool-padding-too-big", layers("maxpool: {kernel_size: 2, padding: 2}"),
         ["padding [2, 2] must be at most half the kernel size [2, 2]"], line=4),
    Case("dropout-probability", layers("dropout: {p: 1.5}"), ["p: expected a probability between 0 and 1, got 1.5"], line=4),
    Case("layernorm-shape", layers("layernorm: {normalized_shape: [5]}"),
         ["normalized_shape [5] does not match the trailing dimensions of the input 3×32×32"], line=4),
    Case("groupnorm-groups", layers("groupnorm: {num_groups: 2}"), ["num_groups=2 must divide the 3 channels"], line=4),
    Case("flatten-dims", layers("flatten: {start_dim: 3, end_dim: 1}"), ["flatten dims start_dim=3, end_dim=1"], line=4),
    Case("layer-is-number", layers("5"), ["expected a layer (a kind name or a mapping like conv: {...}), got 5"], line=4),
    Case("two-kinds-one-item", layers("{relu: {}, tanh: {}}"), ["one layer per list item, got relu, tanh"], line=4),
    Case("arguments-not-mapping", layers("relu: [1]"), ["relu takes a mapping of arguments, got [1]"], line=4),
    Case("residual-shape-mismatch", layers("residual:\n      body: [{conv: {out_channels: 8, kernel_size: 3, padding: 1}}]"),
         ["residual sum needs equal shapes: body gives 8×32×32 but the shortcut gives 3×32×32", "projection shortcut"],
         line=4, path="layers[0]"),
    Case("residual-without-body", layers("residual: {shortcut: identity}"), ["residual needs a body"], line=4),
    Case("residual-unknown-key", layers("residual: {body: [relu], shortcutt: identity}"),
         ["residual has no key 'shortcutt'", "did you mean shortcut?"], line=4),
    Case("residual-bad-shortcut", layers("residual: {body: [relu], shortcut: 5}"),
         ["expected a list of layers or a mapping with name and layers, got 5"], line=4),
    Case("when-not-bool", layers("relu: {when: 3}"), ["when must be true or false, got 3"], line=4, path="layers[0]"),
    # -- names -------------------------------------------------------------------------------------
    Case("reserved-forward", layers("conv: {name: forward, out_channels: 4, kernel_size: 3}"),
         ["name 'forward' is an attribute of torch.nn.Module"], line=4, path="layers[0]"),
    Case("reserved-training", layers("relu", "relu: {name: training}"),
         ["name 'training' is an attribute of torch.nn.Module"], line=5, path="layers[1]"),
    Case("reserved-container", layers("sequential: {name: parameters, layers: [relu]}"),
         ["name 'parameters' is an attribute of torch.nn.Module"], line=4),
    Case("dotted-name", layers("conv: {name: a.b, out_channels: 4, kernel_size: 3}"),
         ["name must be letters, digits, '_' or '-' (no dots), got 'a.b'"], line=4, path="layers[0]"),
    Case("name-with-space", layers("relu: {name: 'a b'}"), ["name must be letters, digits", "'a b'"], line=4),
    Case("bool-name", layers("relu: {name: true}"), ["name must be letters, digits", "True"], line=4),
    Case("same-name-different-layer", layers("conv: {name: a, out_channels: 4, kernel_size: 3}",
                                            "conv: {name: a, out_channels: 4, kernel_size: 1}"),
         ["name 'a' is already used in this block by layers[0].conv", "identical layer"], line=5, path="layers[1]"),
    Case("container-name-reused", layers("sequential: {name: s, layers: [relu]}", "sequential: {name: s, layers: [relu]}"),
         ["name 's' is already used in this block"], line=5, path="layers[1]"),
    # -- templates -----------------------------------------------------------------------------------
    Case("unknown-template", HEAD + "import: [resnet-blocks]\nlayers:\n  - use: bottlenek\n    with: {planes: 4}\n",
         ["unknown template 'bottlenek'", "did you mean bottleneck", "templates: basic_block, bottleneck, resnet"],
         line=5, path="layers[0].use"),
    Case("unknown-template-none-defined", layers("use: nope"),
         ["unknown template 'nope'", "templates: none (add templates: or import:)"], line=4),
    Case("missing-template-param", HEAD + "import: [resnet-blocks]\nlayers:\n  - use: basic_block\n",
         ["template 'basic_block' needs a value for parameter 'planes'"], line=5, path="layers[0].use"),
    Case("unknown-template-param", HEAD + "import: [resnet-blocks]\nlayers:\n  - use: basic_block\n"
         "    with: {planes: 8, strides: 2}\n",
         ["template 'basic_block' has no parameter 'strides'", "did you mean stride"], line=5),
    Case("template-name-not-string", layers("use: 5"), ["use needs a template name, got 5"], line=4),
    Case("recursive-template", HEAD + "templates:\n  loop: {layers: [{use: loop}]}\nlayers: [{use: loop}]\n",
         ["templates nest deeper than 32", "recursive template"]),
    Case("with-on-a-leaf", layers("relu: {}\n    with: {a: 1}"), ["'with' belongs to 'use' items"], line=4),
    # -- repeat ---------------------------------------------------------------------------------------
    Case("repeat-billion", layers("repeat: {times: 1000000000, layers: [relu]}"),
         ["repeat times=1,000,000,000 exceeds the limit of 100,000 layer calls"], line=4, path="layers[0].repeat"),
    Case("repeat-too-many-calls", layers("repeat: {times: 60000, layers: [relu, tanh]}"),
         ["more than 100,000 layer calls (limit"], line=4),
    Case("repeat-negative", layers("repeat: {times: -1, layers: [relu]}"),
         ["repeat times must be a non-negative integer, got -1"], line=4),
    Case("repeat-word", layers("repeat: {times: three, layers: [relu]}"),
         ["repeat times must be a non-negative integer, got 'three'"], line=4),
    Case("repeat-with-name", layers("repeat: {times: 2, name: r, layers: [relu]}"),
         ["repeat has no name of its own"], line=4),
    Case("repeat-bad-index", layers("repeat: {times: 2, index: 'a b', layers: [relu]}"),
         ["repeat index must be a variable name, got 'a b'"], line=4),
    Case("repeat-unknown-key", layers("repeat: {times: 2, layer: [relu]}"),
         ["repeat has no key 'layer'", "did you mean layers?"], line=4),
    # -- expressions -----------------------------------------------------------------------------------
    Case("expression-injection", layers("conv: {out_channels: \"${__import__('os').system('touch {marker}')}\", kernel_size: 3}"),
         ["only abs, int, len, max, min, round may be called"], line=4, path="layers[0].conv"),
    Case("expression-attribute", layers("conv: {out_channels: '${().__class__}', kernel_size: 1}"),
         ["Attribute is not allowed in expressions"], line=4),
    Case("expression-lambda", layers("conv: {out_channels: '${(lambda: 1)()}', kernel_size: 1}"),
         ["only abs, int, len, max, min, round may be called"], line=4),
    Case("expression-comprehension", layers("conv: {out_channels: '${[x for x in [1]]}', kernel_size: 1}"),
         ["ListComp is not allowed"], line=4),
    Case("power-tower", layers("conv: {out_channels: '${10**10**10}', kernel_size: 3}"),
         ["${10**10**10}", "exceeds the limit of 64"], line=4, path="layers[0].conv"),
    Case("huge-product", layers("conv: {out_channels: '${10**18 * 10**18}', kernel_size: 3}"),
         ["exceeds the limit"], line=4),
    Case("division-by-zero", layers("conv: {out_channels: '${1/0}', kernel_size: 3}"),
         ["in ${1/0}: division by zero"], line=4, path="layers[0].conv"),
    Case("modulo-by-zero", HEAD + "params: {z: 0}\nlayers:\n  - conv: {out_channels: '${5 % z}', kernel_size: 3}\n",
         ["in ${5 % z}: division by zero"], line=5),
    Case("expression-unknown-name", HEAD + "params: {planes: 4}\nlayers:\n  - conv: {out_channels: '${plane * 4}', kernel_size: 1}\n",
         ["unknown name 'plane'", "did you mean planes", "known: in_channels, in_shape, planes"], line=5),
    Case("expression-syntax", layers("conv: {out_channels: '${3 +}', kernel_size: 1}"),
         ["cannot parse expression ${3 +}"], line=4),
    Case("expression-unbalanced", layers("conv: {out_channels: 'x${3', kernel_size: 1}"),
         ["unbalanced '${'"], line=4),
    Case("expression-empty", layers("conv: {out_channels: '${}', kernel_size: 1}"), ["empty expression"], line=4),
    Case("expression-too-long", layers("conv: {out_channels: '${" + "1+" * 300 + "1}', kernel_size: 1}"),
         ["expression longer than 500 characters"], line=4),
    Case("expression-index-out-of-range", HEAD + "params: {w: [1, 2]}\nlayers:\n  - conv: {out_channels: '${w[5]}', kernel_size: 1}\n",
         ["index 5 out of range for a list of 2"], line=5),
    Case("expression-compare-types", layers("relu: {when: \"${1 < 'a'}\"}"), ["cannot compare 1 and 'a'"], line=4),
    Case("expression-string-times", layers("conv: {out_channels: \"${'a' * 3}\", kernel_size: 1}"),
         ["arithmetic on str 'a'"], line=4),
    Case("param-default-fails", HEAD + "params: {a: '${1/0}'}\nlayers: [relu]\n", ["division by zero", "params.a"], line=3),
    # -- --set on a spec --------------------------------------------------------------------------------
    Case("set-unknown-key", HEAD + "params: {width: 4}\nlayers: [relu]\n", ["--set widht: no such parameter",
                                                                          "did you mean width?", "parameters: width"],
         args=("--set", "widht=3")),
    Case("set-without-params", layers("relu"), ["--set a: no such parameter", "parameters: none"], args=("--set", "a=1")),
    Case("set-value-breaks-layer", HEAD + "params: {c: 4}\nlayers:\n  - conv: {out_channels: '${c}', kernel_size: 1}\n",
         ["out_channels: expected a positive integer, got 'four'"], args=("--set", "c=four"), line=5),
    Case("set-tag-value", HEAD + "params: {a: 1}\nlayers: [relu]\n",
         ["--set value", "YAML tag", "python/object/apply:os.system", "not allowed"],
         args=("--set", "a=!!python/object/apply:os.system ['touch {marker}']")),
    Case("input-too-small-for-spec", layers("conv: {out_channels: 4, kernel_size: 5}"),
         ["spatial size reaches 0", "height 3 with kernel 5"], args=("--input", "3x3x3"), line=4, path="layers[0]"),
]


CLI_CASES = [
    # (id, argv, expected substrings)
    ("unknown-set-key-builtin", ["show", "resnet50", "--set", "groupz=32"],
     ["--set groupz: no such parameter", "did you mean groups?", "resnet50.yaml"]),
    ("set-without-equals", ["show", "resnet50", "--set", "groups"], ["--set expects key=value, got 'groups'"]),
    ("set-bad-key", ["show", "resnet50", "--set", "1x=3"], ["--set expects key=value, got '1x=3'"]),
    ("set-bad-yaml", ["show", "resnet50", "--set", "depths=[3,4,6,3"], ["--set value '[3,4,6,3'", "invalid YAML"]),
    ("set-breaks-template", ["show", "resnet50", "--set", "depths=[1,2]"],
     ["resnet-blocks.yaml:", "index 2 out of range for a list of 2"]),
    ("set-zero-groups", ["show", "resnet50", "--set", "groups=0"],
     ["resnet-blocks.yaml:", "out_channels: expected a positive integer, got 0", "use(bottleneck)"]),
    ("set-unknown-block", ["show", "resnet50", "--set", "block=bottlenek"],
     ["unknown template 'bottlenek'", "did you mean bottleneck"]),
    ("input-zero", ["show", "resnet50", "--input", "0"], ["--input sizes must be between 1 and 1,000,000,000, got '0'"]),
    ("input-word", ["show", "resnet50", "--input", "abc"], ["--input expects 224, 3x32x32, 2x3x224x224 or an exact shape such as [2,10,64], got 'abc'"]),
    ("input-zero-spatial", ["show", "resnet50", "--input", "3x0x0"], ["--input sizes must be between 1", "'3x0x0'"]),
    ("input-negative", ["show", "resnet50", "--input=-5"], ["--input sizes must be between 1", "'-5'"]),
    ("input-huge", ["show", "resnet50", "--input", "2000000000"], ["--input sizes must be between 1 and 1,000,000,000"]),
    ("input-wrong-rank", ["show", "resnet50", "--input", "3x224"],
     ["--input '3x224' has 2 sizes", "takes 3 (C×H×W) or 4 with the batch"]),
    ("input-too-many", ["show", "resnet50", "--input", "1x2x3x4x5"], ["--input '1x2x3x4x5' has 5 sizes"]),
    ("input-empty", ["show", "resnet50", "--input", ""], ["--input expects 224"]),
    ("input-shrinks-builtin", ["show", "vgg16", "--input", "16"],
     ["vgg-blocks.yaml:", "spatial size reaches 0", "layers[0].sequential.layers[0].repeat"]),
    ("batch-negative", ["show", "resnet50", "--batch", "-1"], ["--batch must be a positive integer, got -1"]),
    ("batch-zero", ["show", "resnet50", "--batch", "0"], ["--batch must be a positive integer, got 0"]),
    ("batch-word", ["show", "resnet50", "--batch", "abc"], ["Invalid value for '--batch'", "integer"]),
    ("batch-contradicts-input", ["show", "resnet50", "--input", "2x3x224x224", "--batch", "3"],
     ["--batch 3 contradicts the batch in --input 2x3x224x224"]),
    ("format-nope", ["list", "--format", "nope"], ["--format must be one of table, json, csv, markdown, got 'nope'"]),
    ("format-typo", ["list", "--format", "jsn"], ["--format must be one of table, json", "did you mean json?"]),
    ("misspelled-target", ["show", "resnt50"],
     ["unknown target 'resnt50'", "did you mean resnet50", "paramscope list"]),
    ("misspelled-target-vgg", ["show", "vgg61"], ["unknown target 'vgg61'", "(did you mean vgg", "vgg16"]),
    ("missing-file", ["show", "/nonexistent/dir/net.yaml"], ["spec file '/nonexistent/dir/net.yaml' does not exist"]),
    ("missing-yaml-name", ["show", "nonexistent.yaml"], ["spec file 'nonexistent.yaml' does not exist"]),
    ("empty-target", ["show", ""], ["empty target"]),
    ("library-target", ["show", "resnet-blocks"], ["resnet-blocks.yaml", "template library"]),
    ("show-factory", ["show", "os:getcwd"], ["show works on YAML specs", "os:getcwd is a Python factory"]),
    ("unknown-command", ["frobnicate"], ["No such command 'frobnicate'"]),
    ("missing-argument", ["show"], ["Missing argument 'TARGET'"]),
    ("unknown-option", ["show", "resnet50", "--frobnicate"], ["No such option: --frobnicate"]),
]

FACTORY_CASES = [
    ("factory-missing-attribute", ["os:nonexistent"], ["os:nonexistent: 'nonexistent' not found in os"]),
    ("factory-attribute-typo", ["os:getcwdd"], ["'getcwdd' not found in os", "did you mean getcwd"]),
    ("factory-module-not-found", ["no_such_module_xyz:build"],
     ["no_such_module_xyz:build: module 'no_such_module_xyz' not found"]),
    ("factory-file-missing", ["missing_factory.py:build"], ["factory file 'missing_factory.py' does not exist"]),
    ("factory-not-callable", ["os:sep"], ["os:sep: 'sep' is not callable"]),
    ("factory-not-a-module", ["os:getcwd"], ["os:getcwd: the factory returned str, not an nn.Module"]),
]


def assert_one_line_error(result, expect: list[str]) -> str:
    assert result.code == 2, (result.code, result.err, result.out[:200])
    assert "Traceback" not in result.err and "Traceback" not in result.out
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("paramscope: error: "), lines[0]
    assert "internal error" not in lines[0]
    for text in expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.id for c in SPEC_CASES])
def test_malformed_spec(case: Case, cli, tmp_path):
    marker = tmp_path / "ran.txt"
    for name, text in case.extra_files.items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "bad.yaml"
    if isinstance(case.spec, bytes):
        path.write_bytes(case.spec)
    else:
        path.write_text(case.spec.replace("{marker}", str(marker)), encoding="utf-8")
    args = [a.replace("{marker}", str(marker)) for a in case.args]
    start = time.perf_counter()
    result = cli(case.command, str(path), *args)
    elapsed = time.perf_counter() - start
    message = assert_one_line_error(result, case.expect)
    assert result.out == ""
    assert not marker.exists(), "code in the spec ran"
    if case.line is not None:
        assert f"bad.yaml:{case.line}:" in message, message
    elif "bad.yaml" not in message and not case.id.startswith(("import-", "set-tag")):
        pytest.fail(f"message does not name the file: {message}")
    if case.path is not None:
        assert f": {case.path}" in message, message
    assert elapsed < 30  # every case fails fast (the 100,000-call limit is the slowest)


@pytest.mark.parametrize("argv,expect", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_bad_command_line(argv, expect, cli):
    assert_one_line_error(cli(*argv), expect)


def _has_summary() -> bool:
    from paramscope.cli.main import _register_commands, app

    _register_commands()
    return any((c.name or getattr(c.callback, "__name__", "")) == "summary" for c in app.registered_commands)


@pytest.mark.parametrize("argv,expect", [c[1:] for c in FACTORY_CASES], ids=[c[0] for c in FACTORY_CASES])
def test_bad_factory(argv, expect, cli, tmp_path, monkeypatch):
    if not _has_summary():
        pytest.skip("the summary command is not part of this build")
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(cli("summary", *argv, "--measure", "none"), expect)


def test_factory_errors_from_the_library():
    from paramscope import build
    from paramscope.errors import TargetError

    with pytest.raises(TargetError, match="'nonexistent' not found in os"):
        build("os:nonexistent")
    with pytest.raises(TargetError, match="module 'no_such_module_xyz' not found"):
        build("no_such_module_xyz:f")


def test_corpus_is_large():
    assert len(SPEC_CASES) + len(CLI_CASES) + len(FACTORY_CASES) >= 50


# -- specific guarantees ---------------------------------------------------------------------------

def test_repeat_billion_fails_fast(cli, write_spec):
    path = write_spec(layers("repeat: {times: 1000000000, layers: [{conv: {out_channels: 3, kernel_size: 1}}]}"))
    start = time.perf_counter()
    result = cli("show", str(path))
    assert time.perf_counter() - start < 2
    assert_one_line_error(result, ["exceeds the limit of 100,000"])


def test_billion_laughs_fails_fast(cli, write_spec):
    start = time.perf_counter()
    result = cli("show", str(write_spec(billion_laughs())))
    assert time.perf_counter() - start < 5
    assert_one_line_error(result, ["more than 200,000 values"])


def run_module(*args: str, timeout: float = 60, cwd=None, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PARAMSCOPE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "paramscope", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT, env=env, **kw)


def test_yaml_python_tag_never_runs_in_a_subprocess(tmp_path):
    marker = tmp_path / "pwned"
    spec = tmp_path / "evil.yaml"
    spec.write_text(f"name: evil\ninput: [3]\nlayers:\n  - !!python/object/apply:os.system ['touch {marker}']\n"
                    f"description: !!python/object/apply:subprocess.call [['touch', '{marker}']]\n")
    done = run_module("show", str(spec))
    assert done.returncode == 2
    assert done.stderr.startswith("paramscope: error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert not marker.exists()


def test_expression_injection_never_runs_in_a_subprocess(tmp_path):
    marker = tmp_path / "pwned"
    spec = tmp_path / "evil.yaml"
    spec.write_text("name: evil\ninput: [3, 4, 4]\nlayers:\n"
                    f"  - conv: {{out_channels: \"${{__import__('os').system('touch {marker}')}}\", kernel_size: 1}}\n")
    done = run_module("show", str(spec))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "may be called" in done.stderr
    assert not marker.exists()


def test_subprocess_bad_inputs_exit_2_with_one_line():
    for args in (["show", "resnt50"], ["show", "resnet50", "--input", "abc"], ["list", "--format", "nope"]):
        done = run_module(*args)
        assert done.returncode == 2, args
        assert done.stdout == ""
        assert done.stderr.startswith("paramscope: error: ") and done.stderr.count("\n") == 1, done.stderr


def test_errors_are_located_through_templates(cli):
    # an error inside a built-in template names the template file and the whole path to it
    result = cli("show", "resnet50", "--set", "groups=0")
    message = assert_one_line_error(result, [])
    from paramscope.spec.library import builtin_files

    lines = builtin_files()["resnet-blocks"].read_text().splitlines()
    start = next(i for i, text in enumerate(lines) if text.strip() == "bottleneck:")
    conv1 = next(i for i in range(start, len(lines)) if "name: conv1" in lines[i]) + 1
    assert f"resnet-blocks.yaml:{conv1}:" in message  # the bottleneck's first conv, by its line
    assert "layers[4].repeat.layers[0].sequential.layers[0].repeat.layers[0].use(bottleneck)" in message
    assert "residual.body[0].conv" in message


# -- regressions: defects this corpus found (fixed), and open ones (xfail) -------------------------------


def test_float_power_overflow_is_a_spec_error(cli, write_spec):
    path = write_spec(layers("conv: {out_channels: '${4294967296.0 ** 64}', kernel_size: 1}"))
    assert_one_line_error(cli("show", str(path)), ["spec.yaml:4:", "out_channels"])


def test_bitwise_invert_is_not_unary_plus(cli, write_spec):
    path = write_spec(layers("conv: {out_channels: '${~1}', kernel_size: 1}"))
    assert_one_line_error(cli("show", str(path)), ["out_channels"])


def test_nested_empty_repeats_fail_fast(tmp_path):
    spec = tmp_path / "nest.yaml"
    spec.write_text("name: nest\ninput: [3, 8, 8]\nlayers:\n  - relu\n  - repeat:\n      times: 100000\n"
                    "      layers:\n        - repeat:\n            times: 100000\n"
                    "            layers: [{relu: {when: false}}]\n")
    done = run_module("show", str(spec), timeout=5)
    assert done.returncode == 2 and "limit" in done.stderr


def _limit_memory():  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024 ** 3, 2 * 1024 ** 3))


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_AS")
def test_expression_doubling_is_bounded(tmp_path):
    lines = ["name: dbl", "input: [3, 8, 8]", "params:", "  p0: aaaaaaaa"]
    lines += [f"  p{i}: '${{p{i - 1} + p{i - 1}}}'" for i in range(1, 40)]
    spec = tmp_path / "dbl.yaml"
    spec.write_text("\n".join(lines + ["layers: [relu]"]) + "\n")
    start = time.perf_counter()
    done = run_module("show", str(spec), timeout=30, preexec_fn=_limit_memory)
    assert done.returncode == 2
    assert "out of memory" not in done.stderr and ("limit" in done.stderr or "long" in done.stderr)
    assert time.perf_counter() - start < 5


def test_missing_import_names_the_importing_file(cli, write_spec):
    path = write_spec(HEAD + "import: [nowhere.yaml]\nlayers: [relu]\n")
    assert_one_line_error(cli("show", str(path)), ["spec.yaml:3:"])


def test_list_root_message_says_list(cli, write_spec):
    path = write_spec("- relu\n- tanh\n")
    message = assert_one_line_error(cli("show", str(path)), [])
    assert "Seq" not in message and "list" in message


@pytest.mark.parametrize("mode,size,padding", [("reflect", 1, 1), ("reflect", 3, 3), ("circular", 1, 2)])
def test_padding_mode_wider_than_input_is_a_spec_error(mode, size, padding, cli, write_spec):
    path = write_spec(f"name: bad\ninput: [2, {size}, {size}]\nlayers:\n"
                      f"  - conv: {{out_channels: 2, kernel_size: 1, padding: {padding}, padding_mode: {mode}}}\n")
    assert_one_line_error(cli("show", str(path)), ["spec.yaml:4:", "layers[0]", "padding"])


def test_padding_mode_within_the_input_matches_torch(write_spec):
    import torch
    from torch import nn

    from paramscope.api import resolve_spec

    for mode, size, padding in [("reflect", 2, 1), ("replicate", 1, 3), ("circular", 2, 2)]:
        path = write_spec(f"name: ok\ninput: [1, {size}, {size}]\nlayers:\n"
                          f"  - conv: {{out_channels: 1, kernel_size: 1, padding: {padding}, padding_mode: {mode}}}\n")
        conv = nn.Conv2d(1, 1, 1, padding=padding, padding_mode=mode, device="meta")
        expected = tuple(conv(torch.empty(1, 1, size, size, device="meta")).shape)
        assert resolve_spec(str(path)).root.out_shape == expected



@pytest.mark.parametrize("dim", [4, 7, -5])
def test_softmax_dim_out_of_range_is_a_spec_error(dim, cli, write_spec):
    path = write_spec(f"name: bad\ninput: [3, 8, 8]\nlayers:\n  - softmax: {{dim: {dim}}}\n")
    assert_one_line_error(cli("show", str(path)), ["spec.yaml:4:", "layers[0]", "dim"])


@pytest.mark.parametrize("dim", [-4, -1, 0, 3])
def test_softmax_dim_in_range_runs_on_cpu(dim, write_spec):
    import torch

    from paramscope.api import build

    path = write_spec(f"name: ok\ninput: [3, 4, 4]\nlayers:\n  - softmax: {{dim: {dim}}}\n")
    assert build(str(path))(torch.zeros(1, 3, 4, 4)).shape == (1, 3, 4, 4)
