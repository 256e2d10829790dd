"""--input forms: 224, CxHxW, NxCxHxW, the exact shape [..] for any rank, NxF for factories."""

from __future__ import annotations

import pytest

from paramscope.errors import ParamscopeError
from paramscope.tracing.inputs import parse_input

SPEC = (1, 3, 224, 224)  # a spec's default input, batch included


@pytest.mark.parametrize("text,batch,default,expected", [
    ("224", None, SPEC, (1, 3, 224, 224)),
    ("64", 4, SPEC, (4, 3, 64, 64)),
    ("3x32x32", None, SPEC, (1, 3, 32, 32)),
    ("2x3x32x32", None, SPEC, (2, 3, 32, 32)),
    ("[2,3,32,32]", None, SPEC, (2, 3, 32, 32)),
    ("[2, 10, 64]", None, None, (2, 10, 64)),       # a sequence model behind a factory
    ("2x16", None, None, (2, 16)),                  # tokens: N x F for a factory
    ("3x32x32", None, None, (1, 3, 32, 32)),        # a factory image input
    ("128", None, (1, 512), (1, 128)),              # a features spec
    (None, 8, SPEC, (8, 3, 224, 224)),
])
def test_input_forms(text, batch, default, expected):
    assert parse_input(text, default, batch) == expected


@pytest.mark.parametrize("text,default,message", [
    ("[3,64,64]", SPEC, "has 3 dimensions; this spec's input has 4"),
    ("[3,64", SPEC, "exact shape"),
    ("2x3x4x5x6", SPEC, "has 5 sizes"),
    ("[1,1,1,1,1,1,1,1,1]", None, "at most 8"),
    ("0x3x8x8", SPEC, "between 1 and"),
    ("3x224x224", (1, 512), "(features)"),
])
def test_bad_input_forms(text, default, message):
    with pytest.raises(ParamscopeError, match=None) as err:
        parse_input(text, default, None)
    assert message in str(err.value)
