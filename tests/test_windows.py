"""Tests for course_utils.windows: documents longer than the model's window, explained in overlapping windows.

The tiny random BERT of conftest.py reads 64 tokens, so a 3,000-token document spans about a hundred windows.
Because every window is explained on its own, a word planted in window k can change the scores of only the
windows that contain it: everything outside them stays bit-identical — for all five methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import corpus
from course_utils.windows import explain_windows, window_spans

WORDS = (
    "the budget must be balanced and our schools deserve support while families work hard for a better "
    "future in every state of this great nation"
).split()
FAST = {"ig": {"n_steps": 4}, "loo": {}, "atman": {}, "shap": {"max_evals": 24}, "lime": {"num_samples": 30}}
STRIDE = 50


def _long_text(tokenizer, n_tokens: int) -> str:
    words = [WORDS[i % len(WORDS)] for i in range(n_tokens)]
    text = " ".join(words)
    assert len(tokenizer(text)["input_ids"]) == n_tokens + 2  # one token per word
    return text


@pytest.mark.parametrize("width,stride", [(62, 31), (62, 40), (62, 62), (10, 3), (5, 9)])
def test_window_spans_cover_the_document_at_word_boundaries(width, stride):
    rng = np.random.default_rng(0)
    word_ids = np.repeat(np.arange(400), rng.integers(1, 4, 400)).tolist()  # words of 1–3 WordPieces
    spans = window_spans(word_ids, width, stride)
    starts_of_words = {0} | {i for i in range(1, len(word_ids)) if word_ids[i] != word_ids[i - 1]}
    assert spans[0][0] == 0 and spans[-1][1] == len(word_ids)
    for (a, b), (c, _d) in zip(spans, spans[1:]):
        assert a < c <= b  # in order, no gap (overlap when stride < width)
    for a, b in spans:
        assert 0 < b - a <= width and a in starts_of_words and (b == len(word_ids) or b in starts_of_words)
    if stride < width - 3:
        assert all(c < b for (_, b), (c, _) in zip(spans, spans[1:]))  # they overlap
    assert window_spans(word_ids[:width], width, stride) == [(0, width)]


def test_a_word_longer_than_a_window_is_an_error():
    with pytest.raises(ValueError, match="fits in no window"):
        window_spans([0] * 3 + [1] * 20 + [2] * 3, 10, 5)


@pytest.mark.parametrize("method", list(FAST))
def test_3000_token_document_every_token_one_score_and_a_planted_word_moves_only_its_windows(
    tiny_classifier, method
):
    tokenizer, model = tiny_classifier
    text = _long_text(tokenizer, 3000)
    table = explain_windows(
        model,
        tokenizer,
        [text, "A short one."],
        method,
        "Republican",
        stride=STRIDE,
        progress=False,
        **FAST[method],
    )
    long = table.tokens[table.tokens["doc_id"] == 0]
    assert long["position"].tolist() == list(range(3002))  # every token exactly once, in order
    assert np.isfinite(long["score"]).all() and long["token"].tolist() == tokenizer(text).tokens()
    docs, windows = table.documents, table.windows
    assert docs["n_windows"].tolist() == [len(window_spans(list(range(3000)), 62, STRIDE)), 1]
    assert docs["n_dropped"].tolist() == [0, 0] and len(windows) == docs["n_windows"].sum()
    # document probability = mean of its windows' probabilities (target fixed: Republican)
    assert docs.loc[0, "probability"] == pytest.approx(
        windows.loc[windows["doc_id"] == 0, "probability"].mean(), abs=1e-12
    )

    # plant "republican" in the middle of window k: only the windows containing it change
    spans = list(
        zip(windows.loc[windows["doc_id"] == 0, "start"], windows.loc[windows["doc_id"] == 0, "stop"])
    )
    k = len(spans) // 2
    spot = (spans[k][0] + spans[k][1]) // 2  # content-token index = word index here
    words = text.split()
    words[spot] = "republican"
    planted = explain_windows(
        model,
        tokenizer,
        [" ".join(words), "A short one."],
        method,
        "Republican",
        stride=STRIDE,
        progress=False,
        **FAST[method],
    )
    after = planted.tokens.loc[planted.tokens["doc_id"] == 0, "score"].to_numpy()
    before = long["score"].to_numpy()
    touched = np.zeros(3002, bool)
    for a, b in spans:
        if a <= spot < b:
            touched[1 + a : 1 + b] = True
    content = np.arange(3002)[1:-1]
    assert np.array_equal(after[content][~touched[content]], before[content][~touched[content]])
    assert not np.allclose(after[touched], before[touched])  # the scores moved where the word was planted
    assert after[1 + spot] != before[1 + spot]


def test_a_document_that_fits_is_explained_as_explain_does(tiny_classifier):
    from course_utils.attribution import explain

    tokenizer, model = tiny_classifier
    texts = ["We will cut taxes for working families.", "Health care is a right."]
    windowed = explain_windows(model, tokenizer, texts, "ig", n_steps=8, progress=False)
    direct = explain(model, tokenizer, texts, "ig", n_steps=8, progress=False)
    np.testing.assert_allclose(windowed.tokens["score"], direct.tokens["score"], rtol=1e-6, atol=1e-9)
    assert windowed.tokens["prediction"].tolist() == direct.tokens["prediction"].tolist()
    assert windowed.documents["n_windows"].tolist() == [1, 1]


def test_overlapping_scores_are_averaged(tiny_classifier):
    tokenizer, model = tiny_classifier
    text = _long_text(tokenizer, 100)
    table = explain_windows(model, tokenizer, text, "loo", "Democratic", stride=20, progress=False)
    windows = table.windows
    from course_utils.attribution import explain

    parts = explain(
        model,
        tokenizer,
        [" ".join(text.split()[a:b]) for a, b in zip(windows["start"], windows["stop"])],
        "loo",
        "Democratic",
        progress=False,
    )
    total, count = np.zeros(102), np.zeros(102)
    for w, (a, b) in enumerate(zip(windows["start"], windows["stop"])):
        s = parts.tokens.loc[parts.tokens["doc_id"] == w, "score"].to_numpy()
        where = np.r_[0, np.arange(1 + a, 1 + b), 101]
        total[where] += s
        count[where] += 1
    assert count.min() >= 1 and count.max() >= 2  # overlaps exist
    np.testing.assert_allclose(table.tokens["score"].to_numpy(), total / count, rtol=1e-12)


def test_explain_corpus_windows_long_documents_by_default(tiny_classifier, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    tokenizer, model = tiny_classifier
    frame = pd.DataFrame(
        {
            "paragraph_id": ["a", "b", "c"],
            "text": ["Short text.", _long_text(tokenizer, 300), "Another short text."],
        }
    )
    table = corpus.explain_corpus(model, tokenizer, frame, chunk_size=2, progress=False, n_steps=4)
    assert capsys.readouterr().out.count("longer than the model's window") == 1
    assert (table.tokens["doc_id"] == "b").sum() == 302 and table.windows["doc_id"].eq("b").sum() > 1
    again = corpus.explain_corpus(model, tokenizer, frame, chunk_size=2, progress=False, n_steps=4)
    assert again.cache["loaded"] == 2  # the windows table is cached too
    pd.testing.assert_frame_equal(again.windows, table.windows)
    with pytest.warns(UserWarning, match="truncated"):
        truncated = corpus.explain_corpus(
            model, tokenizer, frame, chunk_size=2, progress=False, n_steps=4, long="truncate"
        )
    assert truncated.cache["key"] != table.cache["key"] and (truncated.tokens["doc_id"] == "b").sum() == 64
    short = frame.drop(index=1)  # no long document: window and truncate are the same run (same key)
    keys = {
        corpus.explain_corpus(model, tokenizer, short, progress=False, n_steps=4, long=mode).cache["key"]
        for mode in ("window", "truncate")
    }
    assert len(keys) == 1


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (
            {"long": "wrap"},
            ValueError,
            r"long='wrap' is not supported; choose one of \['window', 'truncate'\]",
        ),
        ({"long": None}, ValueError, "long=None is not supported; choose one of"),
        ({"stride": True}, TypeError, "stride must be an int"),
        ({"stride": 2.5}, TypeError, "stride must be an int"),
        ({"stride": 0}, ValueError, "stride=0 is too small: use an integer ≥ 1"),
    ],
)
def test_explain_corpus_rejects_bad_long_and_stride(
    tiny_classifier, tmp_path, monkeypatch, kwargs, error, match
):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    tokenizer, model = tiny_classifier
    frame = pd.DataFrame({"paragraph_id": [0], "text": ["Hello there."]})
    with pytest.raises(error, match=match):
        corpus.explain_corpus(model, tokenizer, frame, progress=False, **kwargs)
    if "stride" in kwargs:  # explain_windows checks stride the same way
        with pytest.raises(error, match=match):
            explain_windows(model, tokenizer, ["Hello there."], "loo", stride=kwargs["stride"])
