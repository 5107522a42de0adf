"""LM node encoder: GraphStorm's payload graphs (intermediate/*.npz of rgcn_nc_lm) through the
restored model match target/ (T13 int64 masks, T14 other node types kept, T15 fine-tuned LM
weights from model.bin), strict loading, one LM forward for a batch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from handler.contract.lm_config import LMNodeModelSpec
from handler.contract.lm_resolution import LMResolver
from handler.model.graphstorm_model import ModelLoadError, restore_model
from handler.nn.lm_input_layer import LMEncoder, LMModels, LMNodeInputLayer
from handler.nn.relational_graph import RelationalGraph
from handler.transforms.lm_loading import build_lm, load_pretrained_lm
from handler.transforms.text_tokens import TextTokens
from tests.handler.npz_graph import (
    fixture_path,
    load_config,
    load_npz_case,
    model_etypes,
    model_ntypes,
    npz_cases,
    target_predictions,
)

VARIANT = "rgcn_nc_lm"
ATOL = 1e-5
LM_PREFIX = "_lm_models._lm_models.paper.lm_model."


def _resolver() -> LMResolver:
    return LMResolver(search_roots=(fixture_path(VARIANT, "lm"),))


_MODEL: list = []


def _model():
    if not _MODEL:
        config = load_config(VARIANT)
        model_bin = fixture_path(VARIANT, "artifacts", "model.bin")
        _MODEL.append((config, restore_model(config, model_etypes(VARIANT), model_bin,
                                             ntypes=model_ntypes(VARIANT), lm_resolver=_resolver())))
    return _MODEL[0]


def _tokens(case: str) -> TextTokens:
    data = np.load(fixture_path(VARIANT, "intermediate", f"{case}.npz"))
    return TextTokens(*(data[f"node_feat/paper/{k}"] for k in ("input_ids", "attention_mask", "token_type_ids")))


def _success_cases() -> list[str]:
    return [c for c in npz_cases(VARIANT)
            if json.loads(fixture_path(VARIANT, "target", f"{c}.json").read_text())["status_code"] == 200]


def _by_target(case, out) -> dict:
    rows: dict = {}
    for ntype, node_id in case.target_keys:
        rows.setdefault(ntype, []).append(node_id)
    return {(nt, nid): out[nt][i].tolist() for nt, ids in rows.items() for i, nid in enumerate(ids)}


@pytest.mark.parametrize("case", _success_cases())
def test_prediction_matches_target(case):
    config, model = _model()
    inputs = load_npz_case(VARIANT, case, config, nan_to_zero=True)  # T5 for e02
    out = _by_target(inputs, model.predict(inputs.graph, inputs.node_inputs, inputs.edge_inputs,
                                           inputs.positions, {"paper": _tokens(case)}))
    for ntype, node_id, want in target_predictions(VARIANT, case):
        np.testing.assert_allclose(out[(ntype, node_id)], want, rtol=0, atol=ATOL, err_msg=f"{case} {node_id}")


@pytest.mark.parametrize("case", ["v01_tiny", "t03_unicode_title", "v06_large_full"])
def test_lm_embedding_is_the_fine_tuned_pooler_output(case):  # T13 + T15
    _, model = _model()
    with torch.inference_mode():
        emb = model.node_embed._lm_models({"paper": _tokens(case)})["paper"]
    want = np.load(fixture_path(VARIANT, "intermediate", f"{case}.npz"))["lm_pooler/paper"]
    np.testing.assert_allclose(emb.numpy(), want, rtol=0, atol=1e-6)


def test_lm_weights_come_from_model_bin_not_the_pretrained_folder():  # T15
    _, model = _model()
    saved = torch.load(fixture_path(VARIANT, "artifacts", "model.bin"), weights_only=True)["node_embed"]
    lm_state = model.node_embed.state_dict()
    lm_keys = [k for k in saved if k.startswith(LM_PREFIX)]
    assert len(lm_keys) == 39
    for key in lm_keys:
        torch.testing.assert_close(lm_state[key], saved[key], rtol=0, atol=0)
    pretrained = load_pretrained_lm(_resolver().resolve("gs-tiny-bert")).state_dict()
    assert any(not torch.equal(pretrained[k[len(LM_PREFIX):]], saved[k]) for k in lm_keys)


def test_strict_load_refuses_a_missing_lm_tensor(tmp_path):
    checkpoint = torch.load(fixture_path(VARIANT, "artifacts", "model.bin"), weights_only=True)
    del checkpoint["node_embed"][LM_PREFIX + "pooler.dense.bias"]
    torch.save(checkpoint, tmp_path / "model.bin")
    config = load_config(VARIANT)
    with pytest.raises(ModelLoadError, match="pooler.dense.bias"):
        restore_model(config, model_etypes(VARIANT), tmp_path / "model.bin", ntypes=model_ntypes(VARIANT),
                      lm_resolver=_resolver())


def test_other_node_types_keep_their_features():  # T14
    config, model = _model()
    inputs = load_npz_case(VARIANT, "v02_small", config)
    tokens = {"paper": _tokens("v02_small")}
    base = model.predict(inputs.graph, inputs.node_inputs, inputs.edge_inputs, inputs.positions, tokens)
    changed = dict(inputs.node_inputs, author=inputs.node_inputs["author"] + 1.0)
    other = model.predict(inputs.graph, changed, inputs.edge_inputs, inputs.positions, tokens)
    assert not torch.allclose(base["paper"], other["paper"])


def test_one_lm_forward_for_several_requests():
    _, model = _model()
    a, b = _tokens("v01_tiny"), _tokens("v02_small")
    encoder = model.node_embed._lm_models._lm_models["paper"]
    calls = []
    handle = encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        with torch.inference_mode():
            both = model.node_embed._lm_models({"paper": TextTokens.concat([a, b])})["paper"]
            alone = [model.node_embed._lm_models({"paper": t})["paper"] for t in (a, b)]
    finally:
        handle.remove()
    assert len(calls) == 3
    torch.testing.assert_close(both, torch.cat(alone), rtol=0, atol=1e-6)


def test_text_rows_must_match_feature_rows():
    config, model = _model()
    inputs = load_npz_case(VARIANT, "v02_small", config)
    with pytest.raises(ValueError, match="text for 6 nodes"):
        model.predict(inputs.graph, inputs.node_inputs, inputs.edge_inputs, inputs.positions,
                      {"paper": _tokens("v01_tiny")})


def test_lm_node_type_without_other_features():
    lm_dir = _resolver().resolve("gs-tiny-bert")
    spec = LMNodeModelSpec("bert", "gs-tiny-bert", ("doc",))
    lm_models = LMModels([spec], {"doc": LMEncoder(build_lm(lm_dir))})
    layer = LMNodeInputLayer({"doc": 32}, ["user"], 4, lm_models).eval()
    torch.nn.init.normal_(layer.input_projs["doc"])
    torch.nn.init.normal_(layer.proj_matrix["user"])
    assert layer.in_dim("doc") == 0 and layer.in_dim("user") == 4
    tokens = _tokens("v01_tiny")
    with torch.inference_mode():
        out = layer({"doc": torch.zeros(len(tokens), 0), "user": torch.ones(2, 4)}, {"doc": tokens})
        want = lm_models({"doc": tokens})["doc"] @ layer.input_projs["doc"]
    torch.testing.assert_close(out["doc"], want)
    assert out["user"].shape == (2, 4)


def test_lm_node_type_without_nodes_is_an_absent_type():
    """A payload without nodes of the LM type (e.g. an author target whose papers are not sent)
    predicts as if the type were absent, with or without its other features."""
    config, model = _model()
    inputs = load_npz_case(VARIANT, "v02_small", config)
    graph = RelationalGraph(
        num_nodes=dict(inputs.graph.num_nodes, paper=0),
        edges={et: (src[:0], dst[:0]) if "paper" in (et[0], et[2]) else (src, dst)
               for et, (src, dst) in inputs.graph.edges.items()})
    node_inputs = {nt: x for nt, x in inputs.node_inputs.items() if nt != "paper"}
    targets = {"author": torch.tensor([0])}
    out = model.predict(graph, node_inputs, {}, targets, {})
    with_empty_type = model.predict(graph, dict(node_inputs, paper=torch.zeros(0, model.node_embed.in_dim("paper"))),
                                    {}, targets, {"paper": _no_tokens()})
    assert out["author"].shape == (1, config.num_classes["paper"])
    torch.testing.assert_close(out["author"], with_empty_type["author"])


def _no_tokens() -> TextTokens:
    data = np.load(fixture_path(VARIANT, "intermediate", "v01_tiny.npz"))
    return TextTokens(*(data[f"node_feat/paper/{k}"][:0] for k in ("input_ids", "attention_mask", "token_type_ids")))
