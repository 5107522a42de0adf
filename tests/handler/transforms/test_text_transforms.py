"""tokenize_hf / bert_hf: GConstruct's values on the fixtures' payloads, T6 and T16, one load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handler.contract.graph_schema import GraphSchema
from handler.contract.lm_resolution import LMResolver
from handler.transforms import TextTokens, TokenizeHFTransform, build_transform
from handler.transforms.base import FeatureValueError
from handler.transforms.bert_hf import BertHFTransform
from handler.transforms.lm_loading import load_tokenizer
from handler.transforms.text_tokens import text_values
from tests.handler.npz_graph import fixture_path, npz_cases

LM = "rgcn_nc_lm"  # tokenize_hf on paper.title
BERT = "rgcn_nc_text_bert"  # bert_hf on paper.title
TOKEN_KEYS = ("input_ids", "attention_mask", "token_type_ids")
TOKEN_DTYPES = {"input_ids": np.int64, "attention_mask": np.int8, "token_type_ids": np.int8}


def _resolver(variant: str) -> LMResolver:
    return LMResolver(search_roots=(fixture_path(variant, "lm"),))


def _title_transform(variant: str):
    schema = GraphSchema.from_file(fixture_path(variant, "artifacts", "data_transform_new.json"))
    spec = next(s for s in schema.node_features["paper"] if s.name == "title")
    return build_transform(spec, _resolver(variant))


def _titles(variant: str, case: str) -> tuple[list, np.lib.npyio.NpzFile]:
    """The payload's raw titles in the npz's node order, and the npz."""
    data = np.load(fixture_path(variant, "intermediate", f"{case}.npz"))
    payload = json.loads(fixture_path(variant, "payloads", f"{case}.json").read_text())
    by_id = {n["node_id"]: n["features"]["title"] for n in payload["graph"]["nodes"] if n["node_type"] == "paper"}
    return [by_id[str(i)] for i in data["node_ids/paper"]], data


@pytest.mark.parametrize("case", npz_cases(LM))
def test_tokenize_hf_equals_gconstruct(case):
    titles, data = _titles(LM, case)
    tokens = _title_transform(LM).apply(titles)
    assert isinstance(tokens, TextTokens)
    for key in TOKEN_KEYS:
        got, want = getattr(tokens, key), data[f"node_feat/paper/{key}"]
        assert got.dtype == want.dtype == TOKEN_DTYPES[key], key
        np.testing.assert_array_equal(got, want, err_msg=key)


@pytest.mark.parametrize("case", npz_cases(BERT))
def test_bert_hf_equals_gconstruct(case):
    titles, data = _titles(BERT, case)
    out = _title_transform(BERT).apply(titles)
    want = data["node_feat/paper/title"]
    assert out.dtype == np.float32 and out.shape == want.shape == (len(titles), 32)
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-6)


def test_one_element_list_means_the_string():  # T6
    transform = _title_transform(LM)
    plain, wrapped = transform.apply(["Graph neural networks", "x"]), transform.apply([["Graph neural networks"], "x"])
    for key in TOKEN_KEYS:
        np.testing.assert_array_equal(getattr(plain, key), getattr(wrapped, key))
    bert = _title_transform(BERT)
    np.testing.assert_array_equal(bert.apply(["a title"]), bert.apply([["a title"]]))


@pytest.mark.parametrize("bad", [12345, 1.5, None, True, ["a", "b"], [], [["a"]], {"t": "a"}])
@pytest.mark.parametrize("variant", [LM, BERT])
def test_non_string_text_names_the_row(variant, bad):  # T16
    with pytest.raises(FeatureValueError) as err:
        _title_transform(variant).apply(["fine", "also fine", bad])
    assert err.value.row == 2
    assert "not a text string" in err.value.reason


def test_no_rows():
    tokens = _title_transform(LM).apply([])
    assert len(tokens) == 0 and tokens.seq_length == 16
    assert _title_transform(BERT).apply([]).shape == (0, 32)


def test_tokenizer_and_lm_load_once_per_process():
    a, b = _title_transform(LM), _title_transform(LM)
    assert a.tokenizer is b.tokenizer is load_tokenizer(a.lm_dir)
    c, d = _title_transform(BERT), _title_transform(BERT)
    assert c.lm is d.lm


def test_truncation_and_padding_to_max_seq_length():
    transform = TokenizeHFTransform("t", _resolver(LM).resolve("gs-tiny-bert"), 8)
    tokens = transform.apply(["graph " * 40, ""])
    assert tokens.input_ids.shape == (2, 8)
    assert tokens.attention_mask[0].tolist() == [1] * 8
    assert tokens.attention_mask[1].tolist() == [1, 1] + [0] * 6  # [CLS] [SEP] + padding


def test_concat_keeps_rows_in_order():
    transform = _title_transform(LM)
    a, b = transform.apply(["first title"]), transform.apply(["second", "third one"])
    both = TextTokens.concat([a, b])
    np.testing.assert_array_equal(both.input_ids, transform.apply(["first title", "second", "third one"]).input_ids)
    inputs = both.model_inputs()
    assert all(v.dtype.is_floating_point is False and str(v.dtype) == "torch.int64" for v in inputs.values())


def test_bert_hf_out_dtype_is_applied_before_float32():
    lm_dir = _resolver(BERT).resolve("gs-tiny-bert")
    half = BertHFTransform("t", lm_dir, 16, dtype=np.float16).apply(["a title"])
    full = BertHFTransform("t", lm_dir, 16, infer_batch_size=1).apply(["a title"])
    assert half.dtype == np.float32
    np.testing.assert_array_equal(half, full.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("values", [[False], [3], [2.5], [[1.0, 2.0]], [[7]]],
                         ids=["bool", "int", "float", "vector", "one-element-vector"])
def test_a_columnar_requests_non_text_column_is_described_as_its_json_values(values):
    # A columnar request (Arrow, the JSON reader's columns) gives numbers and booleans as a
    # numpy array: the error names the JSON value's kind, as for the JSON document.
    with pytest.raises(FeatureValueError) as by_json:
        text_values(values)
    with pytest.raises(FeatureValueError) as by_array:
        text_values(np.array(values))
    assert str(by_array.value) == str(by_json.value)
