"""Raw-text models through a real TorchServe, hub disabled, LM files only in the archive.

Both text fixtures (``bert_hf``; ``tokenize_hf`` + a fine-tuned BERT node encoder) are archived
with ``gs-build-mar --lm-model gs-tiny-bert=<fixture>/lm/gs-tiny-bert`` from a directory without
the LM, served with ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1`` and an empty Hugging Face
cache from a working directory without the LM: every case must match target/, alone and when
requests share a batch (one LM forward over their text).
"""

from __future__ import annotations

import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.compare import assert_matches_target, lm_models, load_cases
from tests.serving.torchserve_process import serving

pytestmark = pytest.mark.torchserve

VARIANTS = ("rgcn_nc_lm", "rgcn_nc_text_bert")
CASES = [c for v in VARIANTS for c in load_cases(v)]
LM_NAME = "gs-tiny-bert"


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    elsewhere = tmp_path_factory.mktemp("no-lm-here")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(elsewhere)  # neither the build nor the server can find ./gs-tiny-bert
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setenv("HF_HOME", str(tmp_path_factory.mktemp("empty-hf-home")))
        mp.delenv("GS_LM_MODELS", raising=False)
        store = tmp_path_factory.mktemp("store")
        for variant in VARIANTS:
            lm_dir = lm_models(variant)[LM_NAME]
            mar = mar_builder(variant, store, flags=("--batch-size", "4", "--max-batch-delay", "20",
                                                     "--lm-model", f"{LM_NAME}={lm_dir}"))
            names = set(zipfile.ZipFile(mar).namelist())
            assert {f"artifacts/lm/{LM_NAME}/{p.name}" for p in lm_dir.iterdir()} <= names
        with serving(tmp_path_factory.mktemp("ts"), store, {v: f"{v}.mar" for v in VARIANTS}) as ts:
            yield ts


def _post(ts, case):
    return ts.inference("POST", f"/predictions/{case.variant}", case.body, {"Content-Type": case.content_type})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_payload_matches_target(server, case):
    resp = _post(server, case)
    assert resp.status == 200, resp.body
    assert_matches_target(case, resp.json(), raw_body=resp.body)


@pytest.mark.parametrize("variant", VARIANTS)
def test_concurrent_requests_match_target(server, variant):
    cases = [c for c in CASES if c.variant == variant]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda c: _post(server, c), cases))
    for case, resp in zip(cases, responses, strict=True):
        assert_matches_target(case, resp.json(), raw_body=resp.body)
