"""explain_corpus(autocast="bf16"): the method runs under torch.autocast (bf16 works on the CPU too) and the
documents table reports what that changed. fp16 and the GPU paths are not exercised here (no GPU in CI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import corpus

TEXTS = [
    "We will cut taxes for working families.",
    "Our armed forces are the finest in the world.",
    "Health care is a right.",
    "The budget must be balanced.",
]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))


@pytest.mark.parametrize("long_text", [False, True], ids=["short", "windowed"])
def test_bf16_autocast_reports_its_effect(tiny_classifier, long_text):
    tokenizer, model = tiny_classifier
    texts = TEXTS + ([" ".join(TEXTS * 5)] if long_text else [])
    frame = pd.DataFrame({"paragraph_id": np.arange(len(texts)), "text": texts})
    fp32 = corpus.explain_corpus(model, tokenizer, frame, chunk_size=2, progress=False, n_steps=8)
    bf16 = corpus.explain_corpus(
        model, tokenizer, frame, chunk_size=2, progress=False, n_steps=8, autocast="bf16"
    )
    assert bf16.cache["key"] != fp32.cache["key"] and bf16.options["autocast"] == "bf16"
    docs, ref = bf16.documents, fp32.documents
    assert (docs["autocast"] == "bf16").all()
    # probability_fp32 is the float32 run's probability; the error is what bf16 changed (small, not zero)
    np.testing.assert_allclose(docs["probability_fp32"], ref["probability"], rtol=1e-5)
    error = docs["autocast_probability_error"].to_numpy()
    np.testing.assert_allclose(error, docs["probability"] - docs["probability_fp32"], rtol=0, atol=1e-15)
    assert np.abs(error).max() < 0.05 and np.abs(error).max() > 0
    assert not np.array_equal(bf16.tokens["score"].to_numpy(), fp32.tokens["score"].to_numpy())
    # same explanation, lower precision
    assert np.corrcoef(bf16.tokens["score"], fp32.tokens["score"])[0, 1] > 0.9
    if long_text:
        windows = bf16.windows
        assert {"probability_fp32", "autocast_probability_error"} <= set(windows.columns)
        np.testing.assert_allclose(windows["probability_fp32"], fp32.windows["probability"], rtol=1e-5)
    else:
        assert np.isfinite(docs["completeness_error"]).all()  # IG's completeness under bf16, per document


def test_autocast_must_be_bf16_or_fp16(tiny_classifier):
    tokenizer, model = tiny_classifier
    frame = pd.DataFrame({"paragraph_id": [0], "text": ["Hello."]})
    with pytest.raises(ValueError, match="autocast='fp8'"):
        corpus.explain_corpus(model, tokenizer, frame, progress=False, autocast="fp8")
