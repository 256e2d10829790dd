"""--input item grammar and how sizes are read against a target's expected inputs (no torch)."""

import pytest

from paramscope.errors import ParamscopeError
from paramscope.tracing.input_spec import InputSet, TensorSpec, parse_item, request, single

IMAGE = single((1, 3, 224, 224))
VIDEO = single((1, 3, 16, 224, 224))
TOKENS = InputSet([TensorSpec((1, 128), "int64")])


def test_item_grammar():
    assert parse_item("image2=1x3x520x960") == parse_item("image2=1x3x520x960")
    item = parse_item("ids:long=1x128")
    assert (item.name, item.dtype, item.as_list, item.sizes) == ("ids", "int64", False, "1x128")
    item = parse_item("list:3x800x800")
    assert (item.name, item.dtype, item.as_list) == (None, None, True)
    item = parse_item("half:[2,10,64]")
    assert (item.dtype, item.sizes) == ("float16", "[2,10,64]")


@pytest.mark.parametrize("text, fragment", [
    ("ids:lng=1x5", "unknown qualifier 'lng'"),
    ("=1x5", "not a keyword name"),
    ("2xa3", "sizes must be integers"),
    ("x=1x0", "between 1 and"),
    ("", "empty"),
])
def test_item_errors_name_the_problem(text, fragment):
    with pytest.raises(ParamscopeError, match=fragment):
        parse_item(text)


@pytest.mark.parametrize("text, expected, shape", [
    ("224", IMAGE, (1, 3, 224, 224)),
    ("3x32x32", IMAGE, (1, 3, 32, 32)),
    ("2x3x64x64", IMAGE, (2, 3, 64, 64)),
    ("[2,10,64]", IMAGE, (2, 10, 64)),
    ("3x16x112x112", VIDEO, (1, 3, 16, 112, 112)),  # C×T×H×W for a video model, not N×C×H×W
    ("112", VIDEO, (1, 3, 16, 112, 112)),
    ("2x3x8x112x112", VIDEO, (2, 3, 8, 112, 112)),
    ("1x128", TOKENS, (1, 128)),  # batch 1, 128 tokens
    ("512", TOKENS, (1, 512)),
])
def test_one_plain_item_is_read_against_the_expected_layout(text, expected, shape):
    resolved = request(text).resolve(expected)
    assert tuple(resolved) == shape
    assert resolved.specs[0].dtype == expected.specs[0].dtype


def test_plain_item_resizes_every_input_of_the_same_shape():
    enc_dec = InputSet([TensorSpec((1, 128), "int64"), TensorSpec((1, 128), "int64", "decoder_input_ids")])
    resolved = request("2x64").resolve(enc_dec)
    assert [s.shape for s in resolved.specs] == [(2, 64), (2, 64)]
    assert resolved.specs[1].name == "decoder_input_ids"


def test_batch_option():
    assert tuple(request(None, batch=4).resolve(IMAGE)) == (4, 3, 224, 224)
    assert tuple(request("3x32x32", batch=4).resolve(IMAGE)) == (4, 3, 32, 32)
    with pytest.raises(ParamscopeError, match="contradicts"):
        request("2x3x32x32", batch=4).resolve(IMAGE)


def test_several_items_give_full_shapes_names_and_dtypes():
    resolved = request(["image1=1x3x520x960", "image2=1x3x520x960"]).resolve(IMAGE)
    assert [(s.name, s.shape, s.dtype) for s in resolved.specs] == [
        ("image1", (1, 3, 520, 960), None), ("image2", (1, 3, 520, 960), None)]
    resolved = request(["ids:long=2x16", "3x8"], batch=5).resolve(IMAGE)
    assert [(s.name, s.shape, s.dtype) for s in resolved.specs] == [("ids", (5, 16), "int64"), (None, (5, 8), None)]


def test_list_input_has_batch_elements():
    resolved = request("list:3x800x800").resolve(IMAGE)
    assert resolved.specs[0].as_list and resolved.specs[0].shape == (1, 3, 800, 800)
    assert request("list:3x800x800", batch=2).resolve(IMAGE).specs[0].shape == (2, 3, 800, 800)


def test_named_item_takes_the_dtype_the_target_expects():
    expected = InputSet([TensorSpec((1, 128), "int64"), TensorSpec((1, 128), "int64", "attention_mask")])
    resolved = request(["[1,32]", "attention_mask=1x32"]).resolve(expected)
    assert [s.dtype for s in resolved.specs] == ["int64", "int64"]


def test_api_forms():
    assert tuple(request((2, 3, 32, 32)).resolve(IMAGE)) == (2, 3, 32, 32)
    resolved = request({"a": (1, 4), "b": "2x4"}).resolve(IMAGE)
    assert [(s.name, s.shape) for s in resolved.specs] == [("a", (1, 4)), ("b", (2, 4))]
    with pytest.raises(ParamscopeError, match="names a keyword twice"):
        request(["a=1x2", "a=1x3"]).resolve(IMAGE)
    given = InputSet([TensorSpec((1, 4), "int64"), TensorSpec((1, 4), None, "mask")])
    assert request(given).resolve(IMAGE).specs == given.specs
    assert [s.shape for s in request(given, batch=3).resolve(IMAGE).specs] == [(3, 4), (3, 4)]
    with pytest.raises(ParamscopeError, match="inputs must be"):
        request(3.5)


def test_input_set_text_and_bytes():
    inputs = InputSet([TensorSpec((1, 128), "int64"), TensorSpec((2, 3, 8, 8), None, None, True),
                       TensorSpec((1, 4), "float16", "mask")])
    assert inputs.text() == "int64:1x128, list:3x8x8, mask:float16=1x4"
    assert tuple(inputs) == (1, 128)
    assert inputs.nbytes("float32") == 128 * 8 + 2 * 3 * 8 * 8 * 4 + 4 * 2
    assert not inputs.plain and single((1, 3)).plain


def test_input_set_survives_copy():
    import copy
    import pickle

    inputs = InputSet([TensorSpec((1, 128), "int64")])
    assert copy.deepcopy(inputs).specs == inputs.specs
    assert pickle.loads(pickle.dumps(inputs)).specs == inputs.specs
