"""course_utils.audit: marker words, word swaps, counterfactual edits, attention tables, model cards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import audit
from course_utils.attribution import explain


@pytest.fixture
def paragraphs():
    """Two 'presidents' of different parties; 'folks' only A says, 'economy' both say."""
    rows = [("A", 0, "Folks, the economy is growing for working folks.")] * 6
    rows += [("A", 0, "The economy needs help.")] * 2
    rows += [("B", 1, "The economy is strong and our people are proud.")] * 6
    rows += [("B", 1, "Tremendous people, tremendous economy.")] * 3
    return pd.DataFrame(rows, columns=["president", "label", "text"])


def test_words_of_lowercases_and_splits_on_punctuation():
    assert audit.words_of("COVID-19, folks! 9/11 don't") == ["covid", "19", "folks", "9", "11", "don", "t"]


def test_words_of_rejects_non_text():
    with pytest.raises(TypeError, match="string"):
        audit.words_of(3)


def test_group_markers_finds_concentrated_words(paragraphs):
    markers = audit.group_markers(paragraphs, min_paragraphs=3, min_share=0.8)
    found = markers.set_index("word")
    assert {"folks", "working", "tremendous", "proud"} <= set(found.index)
    assert "economy" not in found.index  # said by both
    assert found.loc["folks", "group"] == "A" and found.loc["folks", "label"] == 0
    assert found.loc["tremendous", "label"] == 1 and found.loc["tremendous", "share"] == 1.0
    assert found.loc["folks", "n_paragraphs"] == 6  # counted once per paragraph
    assert markers["n_paragraphs"].is_monotonic_decreasing


def test_group_markers_thresholds(paragraphs):
    assert "tremendous" not in set(audit.group_markers(paragraphs, min_paragraphs=4)["word"])
    assert "the" not in set(audit.group_markers(paragraphs, min_paragraphs=1, min_length=4)["word"])


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda df: audit.group_markers(df.drop(columns="president")), ValueError, "president"),
        (lambda df: audit.group_markers(df, min_share=0), ValueError, "min_share"),
        (lambda df: audit.group_markers(df, min_paragraphs=0), ValueError, "min_paragraphs"),
        (lambda df: audit.group_markers(df.iloc[:0]), ValueError, "no rows"),
        (lambda df: audit.group_markers(list(df["text"])), TypeError, "DataFrame"),
    ],
)
def test_group_markers_bad_input(paragraphs, call, error, match):
    with pytest.raises(error, match=match):
        call(paragraphs)


def test_find_words_whole_words_any_case():
    found = audit.find_words(
        ["Folks and kinfolks", "no match", "the Soviet Union, soviet"], ["folks", "soviet union"]
    )
    assert found == [["folks"], [], ["soviet union"]]


def test_swap_words_keeps_capitals_and_tidies_spaces():
    out = audit.swap_words(
        ["Americans deserve better, americans know it.", "Good , very good"],
        {"americans": "folks", "very": ""},
    )
    assert out == ["Folks deserve better, folks know it.", "Good, good"]


def test_swap_words_does_not_touch_parts_of_words():
    assert audit.swap_words(["goodness is good"], {"good": "wonderful"}) == ["goodness is wonderful"]


@pytest.mark.parametrize(
    "mapping,error,match",
    [
        (["a"], TypeError, "dict"),
        ({}, ValueError, "no words"),
        ({"": "x"}, TypeError, "non-empty"),
        ({"a": None}, TypeError, "strings"),
    ],
)
def test_swap_words_bad_mapping(mapping, error, match):
    with pytest.raises(error, match=match):
        audit.swap_words(["a b"], mapping)


def test_swap_words_bad_texts():
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        audit.swap_words(["ok", 3], {"a": "b"})


def test_counterfactual_reports_changed_texts_only(tiny_classifier):
    tokenizer, model = tiny_classifier
    texts = pd.Series(["good people work here", "nothing to change", "a good day"], index=[10, 11, 12])
    out = audit.counterfactual(model, tokenizer, texts, {"good": "wonderful"}, target="Republican")
    assert out["doc_id"].tolist() == [10, 12]
    assert out["edited"].tolist() == ["wonderful people work here", "a wonderful day"]
    assert np.allclose(out["change"], out["p_after"] - out["p_before"])
    assert out[["p_before", "p_after"]].apply(lambda c: c.between(0, 1)).all().all()


def test_counterfactual_identity_edit_changes_nothing(tiny_classifier):
    tokenizer, model = tiny_classifier
    out = audit.counterfactual(model, tokenizer, ["good people"], {"good": "Good"}, target=0)
    assert out["edited"].iloc[0] == "Good people" and abs(out["change"].iloc[0]) < 1e-6  # uncased model


def test_counterfactual_without_matches_raises(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.raises(ValueError, match="nothing to edit"):
        audit.counterfactual(model, tokenizer, ["abc"], {"good": "bad"})


def test_counterfactual_bad_target(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.raises(ValueError, match="Green"):
        audit.counterfactual(model, tokenizer, ["good"], {"good": "bad"}, target="Green")


def test_marker_word_scores_ranks_and_aligns(tiny_classifier, paragraphs):
    tokenizer, model = tiny_classifier
    markers = audit.group_markers(paragraphs, min_paragraphs=3)
    table = explain(
        model, tokenizer, ["Folks, tremendous economy.", "The economy grows."], "loo", target="Republican"
    )
    words = audit.marker_word_scores(table, markers)
    assert set(words.loc[words["marker"], "key"]) == {"folks", "tremendous"}
    assert words["percentile"].between(0, 1).all()
    assert (words.groupby("doc_id")["percentile"].max() == 1.0).all()
    row = words.set_index("key").loc[
        "tremendous"
    ]  # a Republican marker explained for Republican: aligned iff > 0
    assert row["aligned"] == (row["score"] > 0)
    row = words.set_index("key").loc["folks"]  # a Democratic marker: aligned iff it opposes Republican
    assert row["aligned"] == (row["score"] < 0)
    assert not words.loc[~words["marker"], "aligned"].any()


def test_marker_word_scores_bad_markers(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, ["some text"], "loo")
    with pytest.raises(TypeError, match="group_markers"):
        audit.marker_word_scores(table, ["folks"])


def test_attention_explanation_sums_to_one_per_document(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, ["a short text", "a somewhat longer text with more words in it"], "loo")
    attention = audit.attention_explanation(model, tokenizer, table)
    assert set(attention["method"]) == {"attention"} and len(attention) == table.n_tokens
    assert (attention["score"] >= 0).all()
    assert np.allclose(attention.groupby("doc_id")["score"].sum(), 1.0, atol=1e-5)
    assert attention["token"].tolist() == table.tokens.sort_values(["doc_id", "position"])["token"].tolist()


def test_attention_explanation_matches_the_model(tiny_classifier):
    import torch

    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, ["the economy grows"], "loo")
    attention = audit.attention_explanation(model, tokenizer, table, layer=0)
    with torch.no_grad():
        enc = tokenizer(["the economy grows"], return_tensors="pt")
        expected = model(**enc, output_attentions=True).attentions[0][0, :, 0, :].mean(0).numpy()
    assert np.allclose(attention["score"], expected, atol=1e-6)


@pytest.mark.parametrize(
    "change,error,match",
    [
        ({"layer": 5}, ValueError, "layer"),
        ({"table": "x"}, TypeError, "explain"),
    ],
)
def test_attention_explanation_bad_input(tiny_classifier, change, error, match):
    tokenizer, model = tiny_classifier
    args = {"table": explain(model, tokenizer, ["text"], "loo"), **change}
    with pytest.raises(error, match=match):
        audit.attention_explanation(model, tokenizer, **args)


def test_model_card_renders_every_kind_of_section():
    card = audit.model_card(
        "Party classifier",
        {
            "Intended use": "Teaching.",
            "Metrics": {"accuracy": 0.73125, "n": 186},
            "Known shortcuts": ["'folks' reads as Democratic"],
            "Per president": pd.DataFrame({"president": ["A"], "accuracy": [0.5]}),
        },
    )
    assert card.startswith("# Model card: Party classifier")
    assert "## Intended use\n\nTeaching." in card and "- **accuracy**: 0.731" in card
    assert (
        "- 'folks' reads as Democratic" in card
        and "| president | accuracy |" in card
        and "| A | 0.5 |" in card
    )


@pytest.mark.parametrize(
    "title,sections,error", [("", {"a": "b"}, ValueError), ("t", {}, TypeError), ("t", "x", TypeError)]
)
def test_model_card_bad_input(title, sections, error):
    with pytest.raises(error):
        audit.model_card(title, sections)


def test_lexicon_explanation_scores_words_by_weight(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, ["wonderful folks", "wonderful folks"], "loo", target=[1, 0])
    lex = audit.lexicon_explanation(table, {"Wonderful": 2.0, "folks": -1.0})
    assert set(lex["method"]) == {"lexicon"} and len(lex) == table.n_tokens
    per_word = lex[~lex["special"]].groupby(["doc_id", "word"])["score"].sum()
    assert per_word[(0, "wonderful")] == pytest.approx(2.0) and per_word[(0, "folks")] == pytest.approx(-1.0)
    assert per_word[(1, "wonderful")] == pytest.approx(-2.0)  # explained for the other class: sign flips
    assert (lex.loc[lex["special"], "score"] == 0).all()


def test_lexicon_explanation_unknown_words_score_zero(tiny_classifier):
    tokenizer, model = tiny_classifier
    lex = audit.lexicon_explanation(explain(model, tokenizer, ["entirely unknown"], "loo"), {})
    assert (lex["score"] == 0).all()


@pytest.mark.parametrize("table,weights,error", [("x", {}, TypeError), (None, {}, TypeError)])
def test_lexicon_explanation_bad_input(table, weights, error):
    with pytest.raises(error):
        audit.lexicon_explanation(table, weights)


def test_lexicon_explanation_bad_weights(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.raises(TypeError, match="weights"):
        audit.lexicon_explanation(explain(model, tokenizer, ["text"], "loo"), [("a", 1.0)])
