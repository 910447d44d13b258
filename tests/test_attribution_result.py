"""The result type of explain(): Explanations (tokens, documents, options, windows, cache), its storage and
the one-release shortcuts that let old code use it as its token DataFrame (the only test allowed to use them)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from course_utils import attribution
from course_utils.attribution import TABLE_COLUMNS, Explanations, explain

TEXTS = ["the senate passed the bill", "taxes and the economy"]


@pytest.fixture(scope="module")
def result(tiny_classifier):
    tokenizer, model = tiny_classifier
    return explain(model, tokenizer, TEXTS, "ig", n_steps=4, progress=False)


def test_fields_and_views(result):
    assert isinstance(result, Explanations)
    assert list(result.tokens.columns) == list(TABLE_COLUMNS)
    assert result.documents["doc_id"].tolist() == [0, 1] and result.windows is None and result.cache is None
    assert result.options["method"] == "ig" and result.options["n_steps"] == 4
    assert (result.n_documents, result.n_tokens, result.methods) == (2, len(result.tokens), ["ig"])
    pd.testing.assert_frame_equal(result.words(), attribution.word_scores(result.tokens))
    pd.testing.assert_frame_equal(attribution.word_scores(result), result.words())
    assert attribution.documents(result) is result.documents
    with pytest.raises(ValueError, match="Explanations"):
        attribution.documents(result.tokens)


def test_repr_and_to_frame(result):
    text = repr(result)
    assert text.startswith("Explanations(2 documents, ") and f"{result.n_tokens} tokens" in text
    assert "method ig" in text
    assert "<table" in result._repr_html_()
    frame = result.to_frame()
    assert type(frame) is pd.DataFrame and frame is not result.tokens and not frame.attrs
    pd.testing.assert_frame_equal(frame, result.tokens)


def test_concat(result, tiny_classifier):
    tokenizer, model = tiny_classifier
    loo = explain(model, tokenizer, TEXTS, "loo", progress=False)
    both = Explanations.concat([result, loo])
    assert both.methods == ["ig", "loo"] and len(both.documents) == 4
    assert both.options == {"parts": [result.options, loo.options]}
    pd.testing.assert_frame_equal(both.tokens, pd.concat([result.tokens, loo.tokens], ignore_index=True))
    same = attribution.concat([both])
    pd.testing.assert_frame_equal(same.documents, both.documents)
    plain = attribution.concat([result.tokens, loo.tokens])
    assert isinstance(plain, pd.DataFrame) and len(plain) == both.n_tokens
    mixed = attribution.concat([result, loo.tokens])
    pd.testing.assert_frame_equal(mixed, plain)
    with pytest.raises(TypeError):
        attribution.concat([result, "not a table"])


def test_parquet_round_trip(result, tmp_path):
    windows = result.documents.assign(window=np.int64(0))
    options = {**result.options, "spans": (1, 2), "names": ["a"]}
    stored = Explanations(
        result.tokens, result.documents, options, windows=windows, cache={"key": "abc", "loaded": 1}
    )
    back = Explanations.from_parquet(stored.to_parquet(tmp_path / "run"))
    pd.testing.assert_frame_equal(back.tokens, stored.tokens)
    pd.testing.assert_frame_equal(back.documents, stored.documents)
    pd.testing.assert_frame_equal(back.windows, stored.windows)
    assert back.options == stored.options and back.cache == stored.cache
    plain = Explanations.from_parquet(result.to_parquet(tmp_path / "plain"))
    assert plain.windows is None and plain.cache is None and plain.options == result.options
    np.testing.assert_array_equal(plain.tokens["score"].to_numpy(), result.tokens["score"].to_numpy())


# ------------------------------------------------------------------------------- one-release shortcuts
SHIMS = {  # what old code did with the DataFrame explain() returned → what it gives now
    "column by item": lambda r: r["score"],
    "boolean filter": lambda r: r[r.tokens.doc_id == 0],
    "column by attribute": lambda r: r.doc_id,
    "DataFrame method": lambda r: r.groupby("doc_id")["score"].sum(),
    "len": len,
    "attrs documents": lambda r: r.attrs["documents"],
    "attrs options": lambda r: r.attrs["options"],
    "membership": lambda r: "score" in r,
    "iteration": lambda r: list(r),
}


@pytest.mark.parametrize("name", SHIMS)
def test_shortcuts_warn_and_delegate_to_tokens(result, name):
    with pytest.warns(FutureWarning, match=r"explain\(\) now returns an Explanations object; use \.tokens"):
        got = SHIMS[name](result)
    tokens = result.tokens
    expected = {
        "column by item": tokens["score"],
        "boolean filter": tokens[tokens.doc_id == 0],
        "column by attribute": result.tokens["doc_id"],
        "DataFrame method": result.tokens.groupby("doc_id")["score"].sum(),
        "len": len(result.tokens),
        "attrs documents": result.documents,
        "attrs options": result.options,
        "membership": True,
        "iteration": list(result.tokens.columns),
    }[name]
    if isinstance(expected, (pd.DataFrame, pd.Series)):
        assert got.equals(expected)
    else:
        assert got == expected


def test_shortcut_warns_once_per_call_site(result):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            result["score"]
    assert sum(issubclass(w.category, FutureWarning) for w in caught) == 1
    assert caught[0].filename == __file__


def test_no_shortcut_for_private_or_unknown_names(result):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bool(result) is True
        with pytest.raises(AttributeError):
            result._secret  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        result.nonsense  # noqa: B018


def test_r_gets_a_plain_token_frame(result):
    from course_utils.r_bridge import r_friendly

    sent = r_friendly(result)
    assert type(sent) is pd.DataFrame and list(sent.columns) == list(TABLE_COLUMNS)
    assert len(sent) == result.n_tokens
