"""`paramscope schema` is a real JSON Schema: every shipped config validates, typos do not."""

from __future__ import annotations

import json

import pytest
import yaml

from paramscope.spec.library import builtin_files
from paramscope.spec.schema import json_schema

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", sorted(builtin_files()))
def test_every_builtin_config_validates(validator, name):
    data = yaml.safe_load(builtin_files()[name].read_text())
    errors = [e.message for e in validator.iter_errors(data)]
    assert not errors, errors[:3]


@pytest.mark.parametrize("layer", [
    {"conv": {"out_chanels": 64, "kernel_size": 3}},          # misspelled argument
    {"conv": {"kernel_size": 3}},                             # required argument missing
    {"conv": {"out_channels": "sixty-four", "kernel_size": 3}},
    {"convolution": {"out_channels": 64}},                    # unknown kind
    "rleu",                                                   # unknown bare kind
    {"relu": {}, "tanh": {}},                                 # two kinds in one item
    {"repeat": {"layers": ["relu"]}},                         # repeat without times
    {"residual": {"shortcut": "identity"}},                   # residual without body
])
def test_schema_rejects_malformed_layers(validator, layer):
    spec = {"name": "bad", "input": [3, 8, 8], "layers": [layer]}
    assert not validator.is_valid(spec)


def test_schema_accepts_expressions_and_structure(validator):
    spec = {"name": "ok", "input": [3, 8, 8], "params": {"w": 8},
            "layers": [{"conv": {"out_channels": "${w * 2}", "kernel_size": 3, "padding": "same"}},
                       {"repeat": {"times": 2, "layers": [{"relu": {"when": "${i == 0}"}}]}},
                       {"residual": {"body": ["relu"], "activation": "relu"}}]}
    assert validator.is_valid(spec)


def test_cli_prints_the_schema(cli):
    result = cli("schema")
    assert result.code == 0 and not result.err, result.err
    assert json.loads(result.out) == json_schema()
