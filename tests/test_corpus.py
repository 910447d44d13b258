"""Tests for course_utils.corpus: cached, resumable explain_corpus (interrupt, resume, damaged chunks, keys)
and the R-friendly word and document tables. A tiny random BERT: the model does not matter here."""

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
    "We thank our teachers tonight.",
    "Freedom is on the march.",
    "Let us build a better future together.",
    "Crime is down and jobs are up.",
    "I ask Congress to act.",
    "Education opens doors.",
]
OPTIONS = {"n_steps": 4}


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "text": TEXTS,
            "paragraph_id": [f"p{i:02d}" for i in range(len(TEXTS))],
            "party": ["Democratic", "Republican"] * 5,
            "president": ["A", "B", "A", "B", "C", "D", "C", "D", "A", "B"],
            "year": [1990, 1991, 1990, 1991, 2000, 2001, 2000, 2001, 1990, 1991],
            "speech_id": ["s1", "s2", "s1", "s2", "s3", "s4", "s3", "s4", "s1", "s2"],
        },
        index=np.arange(100, 100 + len(TEXTS)),
    )


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _run(tiny, frame, **kw):
    tokenizer, model = tiny
    return corpus.explain_corpus(
        model, tokenizer, frame, chunk_size=kw.pop("chunk_size", 3), progress=False, **{**OPTIONS, **kw}
    )


def _chunk_files(folder):
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.glob("chunk-*/*"))}


def test_explain_corpus_maps_doc_id_to_frame_ids(tiny_classifier, frame):
    table = _run(tiny_classifier, frame)
    assert list(table.tokens["doc_id"].unique()) == frame["paragraph_id"].tolist()
    assert table.documents["doc_id"].tolist() == frame["paragraph_id"].tolist()
    assert table.cache["computed"] == 4 and table.cache["loaded"] == 0
    assert list(table.tokens.columns[:7]) == [
        "doc_id",
        "position",
        "token",
        "word_id",
        "word",
        "special",
        "score",
    ]


def test_explain_corpus_equals_explain(tiny_classifier, frame):
    from course_utils.attribution import explain

    tokenizer, model = tiny_classifier
    direct = explain(model, tokenizer, frame["text"].reset_index(drop=True), "ig", n_steps=4, progress=False)
    cached = _run(tiny_classifier, frame)
    np.testing.assert_allclose(
        cached.tokens["score"].to_numpy(), direct.tokens["score"].to_numpy(), atol=1e-6
    )


def test_explain_corpus_second_call_loads_everything(tiny_classifier, frame, cache):
    first = _run(tiny_classifier, frame)
    files = _chunk_files(cache / "attributions" / first.cache["key"])
    second = _run(tiny_classifier, frame)
    assert second.cache["loaded"] == 4 and second.cache["computed"] == 0
    pd.testing.assert_frame_equal(first.tokens, second.tokens)
    pd.testing.assert_frame_equal(first.documents, second.documents)
    assert _chunk_files(cache / "attributions" / first.cache["key"]) == files


def test_explain_corpus_resumes_after_interrupt(tiny_classifier, frame, cache, monkeypatch, capsys):
    calls = []
    real = corpus._explain_chunk

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args[3])  # start row
        return real(*args, **kwargs)

    monkeypatch.setattr(corpus, "_explain_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_classifier, frame)
    assert "interrupted: 2 of 4 chunks are cached" in capsys.readouterr().out
    folders = list((cache / "attributions").iterdir())
    assert len(folders) == 1 and sorted(p.name for p in folders[0].glob("chunk-*")) == [
        "chunk-00000",
        "chunk-00001",
    ]
    assert not list(folders[0].glob(".tmp-*"))  # nothing half-written left behind
    before = _chunk_files(folders[0])

    calls.clear()
    monkeypatch.setattr(corpus, "_explain_chunk", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    resumed = _run(tiny_classifier, frame)
    assert calls == [6, 9]  # only the two missing chunks were computed
    assert resumed.cache | {"folder": None} == {
        "key": folders[0].name,
        "folder": None,
        "loaded": 2,
        "computed": 2,
        "recomputed": 0,
    }
    after = _chunk_files(folders[0])
    assert all(
        after[p] == before[p] for p in before
    )  # finished chunks never rewritten: same mtime, same bytes
    fresh = _run(tiny_classifier, frame, cache=False)
    np.testing.assert_allclose(
        resumed.tokens["score"].to_numpy(), fresh.tokens["score"].to_numpy(), atol=1e-6
    )


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest", "delete"])
def test_explain_corpus_recomputes_damaged_chunk(tiny_classifier, frame, cache, capsys, damage):
    first = _run(tiny_classifier, frame)
    folder = cache / "attributions" / first.cache["key"] / "chunk-00001"
    victim = folder / ("manifest.json" if damage == "manifest" else "tokens.parquet")
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        victim.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    elif damage == "manifest":
        victim.write_text("{not json")
    else:
        victim.unlink()
    again = _run(tiny_classifier, frame)
    assert "cached chunk 1 is damaged" in capsys.readouterr().out
    assert again.cache["recomputed"] == 1 and again.cache["loaded"] == 3
    np.testing.assert_allclose(again.tokens["score"].to_numpy(), first.tokens["score"].to_numpy(), atol=1e-6)
    assert _run(tiny_classifier, frame).cache["loaded"] == 4  # repaired on disk


@pytest.mark.parametrize(
    "change",
    [
        {"n_steps": 6},
        {"method": "ig", "baseline": "mask"},
        {"target": "Republican"},
        {"chunk_size": 4},
        {"batch_size": 2},
        {"text": "changed"},
        {"ids": "changed"},
        {"weights": "changed"},
    ],
)
def test_corpus_key_changes_with_any_input(tiny_classifier, frame, change):
    tokenizer, model = tiny_classifier
    base = dict(method="ig", chunk_size=3, **OPTIONS)
    key = corpus.corpus_key(model, tokenizer, frame, **base)
    assert corpus.corpus_key(model, tokenizer, frame, **base) == key  # stable
    kw, other = dict(base), frame.copy()
    if "text" in change:
        other.loc[other.index[0], "text"] = "A different text."
    elif "ids" in change:
        other["paragraph_id"] = [f"q{i}" for i in range(len(other))]
    elif "weights" in change:
        import copy

        import torch

        model = copy.deepcopy(model)
        with torch.no_grad():
            model.classifier.weight[0, 0] += 1e-3
    else:
        kw.update(change)
    assert corpus.corpus_key(model, tokenizer, other, **kw) != key


def test_explain_corpus_different_options_use_different_folders(tiny_classifier, frame, cache):
    a = _run(tiny_classifier, frame)
    b = _run(tiny_classifier, frame, n_steps=6)
    assert a.cache["key"] != b.cache["key"] and b.cache["computed"] == 4
    assert len(list((cache / "attributions").iterdir())) == 2


def test_explain_corpus_per_row_target(tiny_classifier, frame):
    table = _run(tiny_classifier, frame, target=frame["party"].tolist())
    docs = table.documents
    assert docs["target_label"].tolist() == frame["party"].tolist()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"frame": "not a frame"}, TypeError, "frame must be a pandas DataFrame"),
        ({"text_column": "body"}, ValueError, "text_column='body' is not a column"),
        ({"id_column": "nope"}, ValueError, "id_column='nope' is not a column"),
        ({"frame": "empty"}, ValueError, "frame has no rows"),
        ({"frame": "duplicate ids"}, ValueError, "is not unique"),
        ({"frame": "missing ids"}, ValueError, "has missing values"),
        ({"chunk_size": 0}, ValueError, "chunk_size=0 is too small: use an integer ≥ 1"),
        ({"chunk_size": 2.5}, TypeError, "chunk_size must be an int"),
        ({"target": ["Democratic"]}, ValueError, "target has 1 entries but frame has 10 rows"),
        ({"method": "gradcam"}, ValueError, "not supported"),
        ({"n_step": 3}, TypeError, "unknown option"),
    ],
)
def test_explain_corpus_bad_input(tiny_classifier, frame, kwargs, error, match):
    tokenizer, model = tiny_classifier
    kwargs = dict(kwargs)
    given = kwargs.pop("frame", frame)
    if isinstance(given, str) and given == "empty":
        given = frame.iloc[:0]
    elif isinstance(given, str) and given == "duplicate ids":
        given = frame.assign(paragraph_id="same")
    elif isinstance(given, str) and given == "missing ids":
        given = frame.assign(paragraph_id=[None] + frame["paragraph_id"].tolist()[1:])
    with pytest.raises(error, match=match):
        corpus.explain_corpus(model, tokenizer, given, progress=False, **{"n_steps": 4, **kwargs})


# ---------------------------------------------------------------------------------------- the tables
def _r_friendly(table: pd.DataFrame) -> None:
    from course_utils import compat

    for name, dtype in table.dtypes.items():
        # pandas 2.2 (Colab) keeps text as object: plain str values only, which rpy2 takes
        if dtype == object:  # noqa: E721 (a numpy dtype equals object)
            assert compat.TEXT_DTYPE == object, f"{name} is an object column (pandas 3 has a str dtype)"  # noqa: E721
            assert table[name].map(type).eq(str).all(), f"{name} is an object column of non-str values"
        assert not isinstance(dtype, pd.api.extensions.ExtensionDtype) or pd.api.types.is_string_dtype(
            dtype
        ), name
        if pd.api.types.is_integer_dtype(dtype):
            assert dtype == np.int64


def test_word_table_has_metadata_and_correctness(tiny_classifier, frame):
    table = _run(tiny_classifier, frame)
    words = corpus.word_table(table, frame)
    _r_friendly(words)
    assert {"party", "president", "year", "speech_id", "prediction", "correct", "term"} <= set(words.columns)
    assert words["correct"].dtype == bool
    first = words[words["doc_id"] == "p00"]
    assert first["party"].eq("Democratic").all() and first["year"].eq(1990).all()
    assert (first["correct"] == (first["prediction"] == "Democratic")).all()
    assert (words["term"] == words["word"].str.lower()).all()
    per_doc = table.tokens[~table.tokens["special"]].groupby("doc_id")["score"].sum()
    np.testing.assert_allclose(words.groupby("doc_id")["score"].sum().loc[per_doc.index], per_doc, atol=1e-9)


def test_document_table_measures(tiny_classifier, frame):
    table = _run(tiny_classifier, frame)
    docs = corpus.document_table(table, frame, k=3)
    _r_friendly(docs)
    assert docs["doc_id"].tolist() == frame["paragraph_id"].tolist()
    assert ((docs["top3_share"] > 0) & (docs["top3_share"] <= 1 + 1e-12)).all()
    assert ((docs["positive_share"] >= 0) & (docs["positive_share"] <= 1)).all()
    np.testing.assert_allclose(
        docs["total"], table.tokens.groupby("doc_id", sort=False)["score"].sum().to_numpy()
    )
    short = docs["n_words"] <= 3
    np.testing.assert_allclose(docs.loc[short, "top3_share"], 1.0)
    assert (docs["n_tokens"] == table.tokens.groupby("doc_id", sort=False).size().to_numpy()).all()


def test_document_table_bad_input(tiny_classifier, frame):
    table = _run(tiny_classifier, frame)
    with pytest.raises(ValueError, match="k=0 is too small: use an integer ≥ 1"):
        corpus.document_table(table, frame, k=0)
    with pytest.raises(ValueError, match=r"frame lacks column\(s\) \['region'\]"):
        corpus.document_table(table, frame, metadata=("region",))
    with pytest.raises(ValueError, match="is not in frame"):
        corpus.document_table(table, frame.iloc[1:])


def test_top_words_and_term_trend(tiny_classifier, frame):
    words = corpus.word_table(_run(tiny_classifier, frame), frame)
    top = corpus.top_words(words, "party", k=2, min_docs=1)
    assert (
        set(top["direction"]) == {"for", "against"} and top.groupby(["party", "direction"]).size().le(2).all()
    )
    assert (top.loc[top["direction"] == "for", "mean_score"] > 0).all()
    assert (top.loc[top["direction"] == "against", "mean_score"] < 0).all()
    for_ = top[top["direction"] == "for"]
    assert (for_.groupby("party")["mean_score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    trend = corpus.term_trend(words, {"we": ["we"], "the": ["the"]})
    assert set(trend["year"]) == set(frame["year"]) and len(trend) == 2 * frame["year"].nunique()
    we = words[words["term"] == "we"]
    expected = we.groupby("year")["score"].sum() / words.groupby("year")["doc_id"].nunique()
    got = trend[trend["terms"] == "we"].set_index("year")["score_per_doc"]
    np.testing.assert_allclose(got.loc[expected.index], expected.fillna(0))


def test_explain_corpus_keeps_a_chunk_another_process_finished(tiny_classifier, frame, cache, monkeypatch):
    first = _run(tiny_classifier, frame)
    folder = cache / "attributions" / first.cache["key"]
    before = _chunk_files(folder)
    # simulate a second process that found chunk 0 missing, computed it, and finds it written when done
    real = corpus._read_chunk
    calls = []

    def missing_once(where, *args):
        calls.append(where.name)
        return "missing (simulated)" if len(calls) == 1 else real(where, *args)

    monkeypatch.setattr(corpus, "_read_chunk", missing_once)
    again = _run(tiny_classifier, frame)
    assert again.cache["computed"] == 1 and _chunk_files(folder) == before


def test_explain_corpus_reuses_every_chunk_after_copying_cache_and_model(
    tiny_classifier, frame, tmp_path, monkeypatch
):
    """A workshop copies COURSE_CACHE (and the model folder) to another machine: nothing is recomputed."""
    import shutil

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer, model = tiny_classifier
    here, there = tmp_path / "here", tmp_path / "there"
    model.save_pretrained(here / "model")
    tokenizer.save_pretrained(here / "model")
    monkeypatch.setenv("COURSE_CACHE", str(here / "cache"))
    loaded = (
        AutoTokenizer.from_pretrained(here / "model"),
        AutoModelForSequenceClassification.from_pretrained(
            here / "model", attn_implementation="eager"
        ).eval(),
    )
    first = _run(loaded, frame)
    assert first.cache["computed"] == 4

    shutil.copytree(here, there)
    shutil.rmtree(here)  # the original is gone: nothing may point back to it
    monkeypatch.setenv("COURSE_CACHE", str(there / "cache"))
    copied = (
        AutoTokenizer.from_pretrained(there / "model"),
        AutoModelForSequenceClassification.from_pretrained(
            there / "model", attn_implementation="eager"
        ).eval(),
    )
    assert copied[1].config._name_or_path != loaded[1].config._name_or_path
    monkeypatch.setattr(
        corpus, "_explain_chunk", lambda *a, **k: pytest.fail("a chunk was recomputed after the copy")
    )
    again = _run(copied, frame)
    assert again.cache["loaded"] == 4 and again.cache["computed"] == 0
    assert again.cache["key"] == first.cache["key"]
    pd.testing.assert_frame_equal(first.tokens, again.tokens)


def test_corpus_key_changes_with_the_tokenizer_content(tiny_classifier, frame, tmp_path):
    """Two vocabulary ids swapped (same size, same name) give another key; the same files elsewhere do not."""
    import json

    from transformers import AutoTokenizer

    tokenizer, model = tiny_classifier
    tokenizer.save_pretrained(tmp_path / "a")
    spec = json.loads((tmp_path / "a" / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    vocab["tax"], vocab["war"] = vocab["war"], vocab["tax"]
    (tmp_path / "b").mkdir()
    for path in (tmp_path / "a").iterdir():
        if path.name != "vocab.txt":
            (tmp_path / "b" / path.name).write_bytes(path.read_bytes())
    (tmp_path / "b" / "tokenizer.json").write_text(json.dumps(spec))
    same, swapped = (
        AutoTokenizer.from_pretrained(tmp_path / "a"),
        AutoTokenizer.from_pretrained(tmp_path / "b"),
    )
    key = corpus.corpus_key(model, tokenizer, frame, n_steps=4)
    assert corpus.corpus_key(model, same, frame, n_steps=4) == key
    assert len(swapped) == len(tokenizer) and corpus.corpus_key(model, swapped, frame, n_steps=4) != key
