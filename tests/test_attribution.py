"""Generic tests of course_utils.attribution.explain, run for every case in conftest.METHOD_CASES,
plus the input checks (texts, target, tokenizer/model pair, truncation) and word_scores."""

import numpy as np
import pandas as pd
import pytest
from conftest import LABELS, METHOD_CASES

from course_utils.attribution import (
    SUPPORTED_METHODS,
    TABLE_COLUMNS,
    check_target,
    check_texts,
    concat,
    documents,
    explain,
    method_options,
    word_scores,
)

TEXTS = [
    "The economy is growing stronger every year.",
    "Taxes must be cut.",
    "We will defend our freedom, and unbelievably we shall prevail!",
]


@pytest.fixture(params=METHOD_CASES)
def case(request):
    return request.param


def n_tokens(tokenizer, texts):
    return [len(ids) for ids in tokenizer(texts)["input_ids"]]


# --------------------------------------------------------------------------------------------- generic
def test_explain_one_row_per_token(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    table = explain(model, tokenizer, TEXTS, method, **options).tokens
    lengths = n_tokens(tokenizer, TEXTS)
    assert len(table) == sum(lengths)
    assert table.groupby("doc_id").size().tolist() == lengths
    for d, text in enumerate(TEXTS):
        rows = table[table["doc_id"] == d]
        assert rows["position"].tolist() == list(range(lengths[d]))
        assert rows["token"].tolist() == tokenizer(text).tokens()
    assert table["score"].notna().all() and np.isfinite(table["score"]).all()


def test_explain_columns_and_dtypes(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    result = explain(model, tokenizer, TEXTS, method, **options)
    table = result.tokens
    assert tuple(table.columns) == TABLE_COLUMNS
    for col in ("doc_id", "position", "word_id", "target"):
        assert table[col].dtype == np.int64, col
    for col in ("score", "probability"):
        assert table[col].dtype == np.float64, col
    assert table["special"].dtype == bool
    for col in ("token", "word", "method", "target_label", "prediction"):
        assert pd.api.types.is_string_dtype(table[col]), col
    assert (table["method"] == method).all()
    docs = result.documents
    assert documents(result) is docs
    assert docs["doc_id"].tolist() == [0, 1, 2] and docs["method"].eq(method).all()
    assert table["probability"].between(0, 1).all()


def test_explain_special_tokens_flagged(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    table = explain(model, tokenizer, TEXTS, method, **options).tokens
    special = table[table["special"]]
    assert set(special["token"]) == {"[CLS]", "[SEP]"}
    assert (special["word_id"] == -1).all()
    assert len(special) == 2 * len(TEXTS)
    assert (table.loc[~table["special"], "word_id"] >= 0).all()


@pytest.mark.parametrize("target, expected", [("Republican", 1), (0, 0), ([1, 0, "Republican"], [1, 0, 1])])
def test_explain_target_by_name_or_index(tiny_classifier, case, target, expected):
    tokenizer, model = tiny_classifier
    method, options = case
    table = explain(model, tokenizer, TEXTS, method, target, **options).tokens
    per_doc = table.groupby("doc_id")["target"].first().tolist()
    assert per_doc == (expected if isinstance(expected, list) else [expected] * len(TEXTS))
    assert (table["target_label"] == table["target"].map(dict(enumerate(LABELS)))).all()


def test_explain_target_none_is_prediction(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    table = explain(model, tokenizer, TEXTS, method, None, **options).tokens
    assert (table["target_label"] == table["prediction"]).all()
    assert (table["probability"] >= 0.5).all()  # two labels: the predicted one has probability ≥ 0.5


def test_explain_target_changes_scores(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    dem = explain(model, tokenizer, TEXTS[:1], method, "Democratic", **options).tokens
    rep = explain(model, tokenizer, TEXTS[:1], method, "Republican", **options).tokens
    assert not np.allclose(dem["score"], rep["score"])
    np.testing.assert_allclose(dem["probability"] + rep["probability"], 1.0, atol=1e-6)


def test_explain_deterministic_reruns(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    first = explain(model, tokenizer, TEXTS, method, **options).tokens
    second = explain(model, tokenizer, TEXTS, method, **options).tokens
    pd.testing.assert_frame_equal(first, second)


def test_explain_batch_size_invariance(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    one = explain(model, tokenizer, TEXTS, method, batch_size=1, **options).tokens
    eight = explain(model, tokenizer, TEXTS, method, batch_size=8, **options).tokens
    np.testing.assert_allclose(one["score"], eight["score"], atol=1e-5)
    assert one["token"].tolist() == eight["token"].tolist()


def test_explain_restores_training_mode(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    model.train()
    try:
        explain(model, tokenizer, TEXTS[:1], method, **options)
        assert model.training
        assert all(p.requires_grad for p in model.parameters())
    finally:
        model.eval()


# ------------------------------------------------------------------------------------------ inputs
def test_explain_accepts_str_and_series(tiny_classifier):
    tokenizer, model = tiny_classifier
    single = explain(model, tokenizer, TEXTS[0], n_steps=4).tokens
    assert single["doc_id"].unique().tolist() == [0]
    series = pd.Series(TEXTS, index=[10, 20, 30])
    table = explain(model, tokenizer, series, n_steps=4).tokens
    assert table["doc_id"].unique().tolist() == [10, 20, 30]  # joins back to the DataFrame
    listed = explain(model, tokenizer, TEXTS, n_steps=4).tokens
    np.testing.assert_allclose(table["score"], listed["score"], atol=1e-6)
    words = pd.Series(TEXTS, index=["a", "b", "c"])
    assert explain(model, tokenizer, words, n_steps=4).tokens["doc_id"].unique().tolist() == [0, 1, 2]


BAD_TEXTS = [
    (None, TypeError, "texts must be a string"),
    (42, TypeError, "texts must be a string"),
    ([], ValueError, "texts is empty"),
    (["fine", None], TypeError, r"texts\[1\] is missing"),
    (["fine", 3.5], TypeError, r"texts\[1\] is a float"),
    (["fine", "ok", "   "], ValueError, r"texts\[2\] is empty: every text needs at least one token"),
    ([""], ValueError, r"texts\[0\] is empty"),
    (pd.DataFrame({"text": ["a"]}), TypeError, "pass its text column"),
]


@pytest.mark.parametrize("texts, error, match", BAD_TEXTS)
def test_check_texts_bad_input(texts, error, match):
    with pytest.raises(error, match=match):
        check_texts(texts)


BAD_TARGETS = [
    (
        "Green",
        ValueError,
        r"target 'Green' is not a label of this model; its labels are \['Democratic', 'Republican'\]",
    ),
    (2, ValueError, "not a class index"),
    (-1, ValueError, "not a class index"),
    (1.0, TypeError, "target must be None"),
    (True, TypeError, "target must be None"),
    (["Republican"], ValueError, "target has 1 entries but there are 3 texts"),
    ([0, 1, "Green"], ValueError, "'Green' is not a label"),
]


@pytest.mark.parametrize("target, error, match", BAD_TARGETS)
def test_check_target_bad_input(tiny_classifier, target, error, match):
    _, model = tiny_classifier
    with pytest.raises(error, match=match):
        check_target(target, model, 3)


def test_explain_bad_input_raises_before_work(tiny_classifier, case):
    tokenizer, model = tiny_classifier
    method, options = case
    with pytest.raises(ValueError, match="is not a label of this model"):
        explain(model, tokenizer, TEXTS, method, "Green", **options)
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        explain(model, tokenizer, ["ok", " "], method, **options)


def test_explain_unknown_method_lists_choices(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.raises(
        ValueError,
        match=r"method='gradcam' is not supported; choose one of \['ig', 'loo', 'atman', 'shap', 'lime'\]",
    ):
        explain(model, tokenizer, TEXTS, "gradcam")


def test_explain_unknown_option_lists_options(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['n_step'\].*'n_steps'"):
        explain(model, tokenizer, TEXTS, "ig", n_step=8)
    assert "n_steps" in method_options("ig") and "tokenizer" not in method_options("ig")
    assert "ig" in SUPPORTED_METHODS


def test_explain_vocabulary_mismatch_raises(tiny_classifier):
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer, _ = tiny_classifier
    small = BertForSequenceClassification(
        BertConfig(
            vocab_size=1000, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37
        )
    ).eval()
    with pytest.raises(ValueError, match="knows 30522 tokens but the model has only 1000.*same checkpoint"):
        explain(small, tokenizer, TEXTS)


def test_explain_tokenizer_without_special_tokens_raises(tiny_classifier):
    import copy

    tokenizer, model = tiny_classifier
    broken = copy.deepcopy(tokenizer)
    broken.pad_token = None
    with pytest.raises(ValueError, match="no pad_token.*same checkpoint"):
        explain(model, broken, TEXTS)


def test_explain_slow_tokenizer_raises(tiny_classifier):
    _, model = tiny_classifier
    with pytest.raises(TypeError, match="fast Hugging Face tokenizer"):
        explain(model, lambda texts: texts, TEXTS)


def test_explain_truncates_with_one_warning(tiny_classifier):
    tokenizer, model = tiny_classifier  # the tiny model takes 64 positions
    long = " ".join(["freedom"] * 100)  # 102 tokens with [CLS]/[SEP]
    with pytest.warns(
        UserWarning, match=r"1 text\(s\) longer than the model's maximum of 64 tokens.*texts\[1\] lost 38"
    ) as record:
        result = explain(model, tokenizer, ["short text", long], n_steps=4)
    table = result.tokens
    assert len([w for w in record if "truncated" in str(w.message)]) == 1
    assert (table["doc_id"] == 1).sum() == 64
    assert table[table["doc_id"] == 1]["token"].iloc[-1] == "[SEP]"
    assert result.documents["n_dropped"].tolist() == [0, 38]


def test_explain_max_length_option(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.warns(UserWarning, match="maximum of 5 tokens"):
        table = explain(model, tokenizer, TEXTS[:1], max_length=5, n_steps=4).tokens
    assert len(table) == 5
    with pytest.raises(ValueError, match="max_length=1000 must be between"):
        explain(model, tokenizer, TEXTS[:1], max_length=1000)


# ------------------------------------------------------------------------------------ word scores
def test_word_scores_sum_pieces(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, TEXTS, n_steps=8).tokens
    words = word_scores(table)
    content = table[~table["special"]]
    assert len(words) == content.groupby(["doc_id", "word_id"]).ngroups
    np.testing.assert_allclose(
        words.groupby("doc_id")["score"].sum(), content.groupby("doc_id")["score"].sum()
    )
    pieces = words[words["n_tokens"] > 1]
    assert len(pieces), "the texts contain a word split into several WordPieces"
    row = pieces.iloc[0]
    assert " " in row["tokens"] and row["word"].lower().startswith(row["tokens"].split()[0])
    all_rows = word_scores(table, keep_special=True)
    np.testing.assert_allclose(
        all_rows.groupby("doc_id")["score"].sum(), table.groupby("doc_id")["score"].sum()
    )


def test_word_scores_keeps_original_case(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, ["Taxes must be cut."], n_steps=4).tokens
    assert word_scores(table)["word"].tolist() == ["Taxes", "must", "be", "cut", "."]


def test_concat_stacks_tables_and_documents(tiny_classifier):
    tokenizer, model = tiny_classifier
    a = explain(model, tokenizer, TEXTS, n_steps=4)
    b = explain(model, tokenizer, TEXTS, n_steps=4, baseline="zero")
    both = concat([a, b])
    assert both.n_tokens == a.n_tokens + b.n_tokens
    assert len(documents(both)) == 2 * len(TEXTS)
    assert len(a.documents) == len(TEXTS)  # inputs untouched


def test_building_blocks_are_public():
    import course_utils.attribution as attribution

    for name in attribution.BUILDING_BLOCKS:
        obj = getattr(attribution, name)
        assert obj.__module__.startswith("course_utils.attribution._"), name
        assert name in attribution.__all__
    with pytest.raises(AttributeError, match="no attribute 'not_a_block'"):
        _ = attribution.not_a_block
