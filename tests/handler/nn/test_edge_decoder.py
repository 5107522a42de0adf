"""``handler.nn.edge_decoder`` and ``handler.nn.lp_decoder`` against the formulas of GraphStorm's
edge decoders (``edge_decoder.py``, ``eval/utils.py`` 0.5.1), for the options the fixtures do not
cover (MLP decoders, multi-label, focal, DistMult / RotatE / TransE, relation order T1)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional

from handler.contract.edge_task_config import EdgeTaskConfig
from handler.nn.edge_decoder import DenseBiDecoder, MLPEdgeDecoder, build_edge_decoder
from handler.nn.lp_decoder import (
    DistMultScore,
    RotatEScore,
    TransEScore,
    build_lp_decoder,
    normalize_embeddings,
)

ETYPES = [("paper", "cited", "paper"), ("author", "writing", "paper"), ("paper", "writing-rev", "author")]


def _randomised(module: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))
    return module.eval()


def _pairs(k: int = 5, dim: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(k, dim), torch.randn(k, dim)


def test_dense_bi_decoder_classification() -> None:
    dec = _randomised(DenseBiDecoder(8, 3, multilabel=False, num_basis=2))
    u, v = _pairs()
    bilinear = torch.stack([torch.stack([u[a] @ dec.basis_para[b] @ v[a] for b in range(2)]) for a in range(5)])
    logits = bilinear @ dec.combine_basis.weight.T + dec.combine_basis.bias
    assert torch.allclose(dec(u, v), torch.softmax(logits, 1), atol=1e-5)
    multilabel = _randomised(DenseBiDecoder(8, 3, multilabel=True))
    ml_logits = multilabel.combine_basis(torch.einsum("ai,bij,aj->ab", u, multilabel.basis_para, v))
    assert torch.allclose(multilabel(u, v), torch.sigmoid(ml_logits))  # one sigmoid per class
    focal = _randomised(DenseBiDecoder(8, 1, multilabel=False))
    assert focal(u, v).shape == (5, 1) and ((focal(u, v) > 0) & (focal(u, v) < 1)).all()


def test_dense_bi_decoder_regression() -> None:
    dec = _randomised(DenseBiDecoder(8, 1, multilabel=False, num_basis=3, regression=True))
    assert dec.combine_basis.out_features == 8  # GraphStorm combines the bases to in_units values
    u, v = _pairs()
    bilinear = torch.einsum("ai,bij,aj->ab", u, dec.basis_para, v)
    want = dec.regression_head(dec.combine_basis(bilinear))
    assert torch.allclose(dec(u, v), want)


def test_mlp_edge_decoder() -> None:
    dec = _randomised(MLPEdgeDecoder(8, 4, multilabel=False, num_ffn_layers=1))
    u, v = _pairs()
    x = torch.relu(torch.cat([u, v], 1) @ dec.ngnn_mlp.ngnn_gnn[0])
    assert torch.allclose(dec(u, v), torch.softmax(x @ dec.decoder + dec.bias, 1), atol=1e-6)
    reg = _randomised(MLPEdgeDecoder(8, 1, multilabel=False, regression=True, use_bias=False))
    assert reg.decoder.shape == (16, 8) and reg.bias is None
    assert torch.allclose(reg(u, v), reg.regression_head(torch.cat([u, v], 1) @ reg.decoder))


def test_build_edge_decoder_by_config() -> None:
    base = {"task_type": "edge_classification", "target_etypes": (ETYPES[1],), "num_classes": 4}
    assert isinstance(build_edge_decoder(EdgeTaskConfig(**base), 8, True), DenseBiDecoder)
    focal = build_edge_decoder(EdgeTaskConfig(**base, focal_loss=True), 8, True)
    assert focal.combine_basis.out_features == 1
    mlp = build_edge_decoder(EdgeTaskConfig(**base, decoder_type="MLPDecoder"), 8, False)
    assert isinstance(mlp, MLPEdgeDecoder) and mlp.bias is None


def test_distmult_relation_embeddings_follow_sorted_order() -> None:
    """T1 for decoders: row i of ``_w_relation`` is the i-th relation in sorted order."""
    dec = _randomised(DistMultScore(ETYPES, 8, 12.0))
    assert dec.etype2rid == {et: i for i, et in enumerate(sorted(ETYPES))}
    reordered = DistMultScore(list(reversed(ETYPES)), 8, 12.0)
    reordered.load_state_dict(dec.state_dict())
    u, v = _pairs()
    for etype in ETYPES:
        rel = dec._w_relation.weight[sorted(ETYPES).index(etype)]
        assert torch.allclose(dec(u, v, etype), (u * rel * v).sum(-1))
        assert torch.equal(dec(u, v, etype), reordered(u, v, etype))
    with pytest.raises(ValueError, match="not a relation"):
        dec(u, v, ("a", "b", "c"))


def test_rotate_score_is_complex_rotation() -> None:
    dec = _randomised(RotatEScore(ETYPES, 8, 12.0))
    u, v = _pairs()
    etype = ETYPES[0]
    phase = dec._w_relation.weight[sorted(ETYPES).index(etype)] / (12.0 / 4 / math.pi)
    h = torch.complex(u[:, :4], u[:, 4:])
    t = torch.complex(v[:, :4], v[:, 4:])
    want = 12.0 - (h * torch.polar(torch.ones(4), phase) - t).abs().sum(-1)
    assert torch.allclose(dec(u, v, etype), want, atol=1e-5)


@pytest.mark.parametrize(("kind", "p"), [("transe_l1", 1), ("transe_l2", 2)])
def test_transe_score(kind: str, p: int) -> None:
    task = EdgeTaskConfig(task_type="link_prediction", target_etypes=tuple(ETYPES), lp_decoder_type=kind, gamma=5.0)
    dec = _randomised(build_lp_decoder(task, 8, ETYPES))
    assert isinstance(dec, TransEScore)
    u, v = _pairs()
    rel = dec._w_relation.weight[sorted(ETYPES).index(ETYPES[2])]
    assert torch.allclose(dec(u, v, ETYPES[2]), 5.0 - (u + rel - v).norm(p=p, dim=-1))


def test_dot_product_of_l2_normalised_embeddings_is_cosine() -> None:
    task = EdgeTaskConfig(task_type="link_prediction", target_etypes=(ETYPES[0],), lp_decoder_type="dot_product")
    dec = build_lp_decoder(task, 8, ETYPES)
    assert not list(dec.parameters())
    u, v = _pairs()
    got = dec(normalize_embeddings(u, "l2_norm"), normalize_embeddings(v, "l2_norm"), ETYPES[0])
    assert torch.allclose(got, functional.cosine_similarity(u, v), atol=1e-6)
    assert torch.equal(normalize_embeddings(u, None), u)
    assert torch.equal(normalize_embeddings(torch.zeros(1, 8), "l2_norm"), torch.zeros(1, 8))  # eps, no NaN
