"""Tests for course_utils.evaluation on cases where the answer is known.

The key-token model's output depends on ONE token only: p(Republican) = 0.9 when "taxes" is in the input,
0.1 otherwise. An explanation that puts all its mass on "taxes" (the oracle) must therefore win every
faithfulness metric, one that ranks it last (the anti-oracle) must lose, and random explanations must score
like the built-in random baseline. The tiny random BERT of conftest.py checks the integration with explain().
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from course_utils import evaluation as ev
from course_utils.attribution import _inputs, _masking, concat, explain

LABELS = ("Democratic", "Republican")
KEY = "taxes"
FILLER = (
    "the",
    "people",
    "nation",
    "work",
    "year",
    "children",
    "world",
    "great",
    "new",
    "jobs",
    "america",
    "freedom",
    "families",
    "future",
    "congress",
    "peace",
    "security",
    "schools",
    "health",
    "energy",
)
HIGH, LOW = 0.9, 0.1


class KeyTokenModel(torch.nn.Module):
    """A stand-in classifier: logits (0, ±2.2) — p(Republican) = 0.9 iff ``key_id`` is among the real tokens."""

    def __init__(self, key_id: int):
        super().__init__()
        self.key_id = key_id
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # so that next(model.parameters()) gives the device
        self.config = SimpleNamespace(num_labels=2, id2label=dict(enumerate(LABELS)), pad_token_id=0)
        self.seen: list[torch.Tensor] = []

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        self.seen += [
            row[m.bool()].clone() for row, m in zip(input_ids, mask)
        ]  # each sequence without padding
        present = ((input_ids == self.key_id) & mask.bool()).any(1).float()  # (b,)
        logit = np.log(HIGH / LOW) * (2 * present - 1) / 2  # (b,) ±1.1 → p = 0.9 / 0.1
        logits = torch.stack([-logit, logit], dim=1)  # (b, 2)
        return SimpleNamespace(logits=logits)


def synthetic_texts(n: int, seed: int = 0, min_words: int = 8, max_words: int = 20) -> list[str]:
    """Sentences of filler words with the key word at a random place."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        words = list(rng.choice(FILLER, size=rng.integers(min_words, max_words + 1)))
        words.insert(int(rng.integers(0, len(words) + 1)), KEY)
        texts.append(" ".join(words))
    return texts


def make_table(tokenizer, texts, score_fn, method: str) -> pd.DataFrame:
    """A tidy table in explain()'s format with hand-made scores ``score_fn(tokens) -> array``; target Republican."""
    docs = _inputs.encode(tokenizer, list(texts), 64)
    n = len(docs)
    scores = [np.asarray(score_fn(d.tokens), dtype=float) for d in docs]
    ones = np.ones(n, dtype=np.int64)
    return _inputs.build_table(
        docs, np.arange(n, dtype=np.int64), scores, method, ones, ones, np.full(n, HIGH), list(LABELS)
    )


def oracle(tokens):
    return [1.0 if t == KEY else 0.0 for t in tokens]


def anti_oracle(tokens):
    return [-1.0 if t == KEY else 0.0 for t in tokens]


@pytest.fixture(scope="module")
def key_model(packaged_tokenizer):
    assert packaged_tokenizer.tokenize(KEY) == [KEY]
    return KeyTokenModel(packaged_tokenizer.convert_tokens_to_ids(KEY))


@pytest.fixture(scope="module")
def key_tables(packaged_tokenizer):
    texts = synthetic_texts(40)
    return concat(
        [
            make_table(packaged_tokenizer, texts, oracle, "oracle"),
            make_table(packaged_tokenizer, texts, anti_oracle, "anti"),
        ]
    )


# ------------------------------------------------------------------------------------ deletion / insertion
def test_deletion_curve_ranks_key_token_first(key_model, packaged_tokenizer, key_tables):
    curves = ev.deletion_curve(key_model, packaged_tokenizer, key_tables, progress=False)
    auc = curves.auc.groupby("method")["auc"].mean()
    # oracle: 0.9 at 0 %, 0.1 from 10 % on → trapezoid 0.5·(0.9+0.1)·0.1 + 0.1·0.9 = 0.14 for every document
    oracle_auc = curves.auc.loc[curves.auc["method"] == "oracle", "auc"]
    np.testing.assert_allclose(oracle_auc, 0.14, atol=1e-6)
    assert auc["oracle"] < auc["random"] < auc["anti"]
    assert set(curves.points["method"]) == {"oracle", "anti", "random"}
    start = curves.points[curves.points["fraction"] == 0.0]["probability"]
    np.testing.assert_allclose(start, HIGH, atol=1e-6)


def test_insertion_curve_ranks_key_token_first(key_model, packaged_tokenizer, key_tables):
    curves = ev.insertion_curve(key_model, packaged_tokenizer, key_tables, progress=False)
    auc = curves.auc.groupby("method")["auc"].mean()
    np.testing.assert_allclose(curves.auc.loc[curves.auc["method"] == "oracle", "auc"], 0.86, atol=1e-6)
    assert auc["oracle"] > auc["random"] > auc["anti"]
    assert (
        curves.higher_is_better
        and not ev.deletion_curve(key_model, packaged_tokenizer, key_tables, progress=False).higher_is_better
    )


def test_deletion_curve_summary_and_comparison(key_model, packaged_tokenizer, key_tables):
    curves = ev.deletion_curve(key_model, packaged_tokenizer, key_tables, progress=False)
    summary = curves.summary().set_index("method")
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()
    vs = curves.compare_to_random().set_index("method")
    assert vs.loc["oracle", "improvement"] > 0 and vs.loc["oracle", "ci_low"] > 0
    assert vs.loc["anti", "improvement"] < 0
    assert "random" not in vs.index
    mean = curves.mean_curve()
    assert set(mean.columns) == {"method", "fraction", "probability", "sem"}
    assert "deletion" in curves._repr_html_()


def test_curves_select_keeps_the_chosen_documents_and_methods(key_model, packaged_tokenizer, key_tables):
    curves = ev.deletion_curve(key_model, packaged_tokenizer, key_tables, progress=False)
    some = [3, 0, 7]
    chosen = curves.select(some)
    assert chosen.kind == "deletion" and chosen.options == curves.options
    assert set(chosen.points["doc_id"]) == set(chosen.auc["doc_id"]) == set(some)
    assert set(chosen.auc["method"]) == {"oracle", "anti", "random"} and len(chosen.auc) == 3 * len(some)
    expected = curves.auc[curves.auc["doc_id"].isin(some)].reset_index(drop=True)
    pd.testing.assert_frame_equal(chosen.auc, expected)
    assert len(chosen.compare_to_random()) == 2  # oracle and anti, paired with random on the same 3 documents
    only = curves.select(methods=["oracle", "random"])
    assert set(only.auc["method"]) == {"oracle", "random"} and only.auc["doc_id"].nunique() == 40
    assert set(curves.select(some, "oracle").mean_curve()["method"]) == {"oracle"}
    assert len(curves.auc) == 3 * 40  # the original is untouched


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"doc_ids": [0, 999]}, "999"),
        ({"doc_ids": []}, "empty"),
        ({"methods": ["shap"]}, "shap"),
        ({"methods": []}, "choose among"),
    ],
)
def test_curves_select_rejects_what_is_not_there(key_model, packaged_tokenizer, key_tables, kwargs, message):
    curves = ev.deletion_curve(key_model, packaged_tokenizer, key_tables, progress=False)
    with pytest.raises(ValueError, match=message):
        curves.select(**kwargs)


@pytest.mark.parametrize("replacement", ["mask", "unk", "pad", "delete"])
def test_deletion_curve_never_removes_special_tokens(packaged_tokenizer, replacement):
    model = KeyTokenModel(packaged_tokenizer.convert_tokens_to_ids(KEY))
    table = make_table(packaged_tokenizer, synthetic_texts(5), oracle, "oracle")
    ev.deletion_curve(
        model, packaged_tokenizer, table, replacement=replacement, random_baseline=False, progress=False
    )
    cls, sep = packaged_tokenizer.cls_token_id, packaged_tokenizer.sep_token_id
    assert model.seen
    for ids in model.seen:  # every sequence the model saw: [CLS] first, [SEP] last, once each
        assert ids[0] == cls and ids[-1] == sep
        assert int((ids == cls).sum()) == 1 and int((ids == sep).sum()) == 1
    if replacement == "delete":
        assert min(len(ids) for ids in model.seen) == 2  # at 100 %: only [CLS] [SEP] remain


def test_insertion_curve_starts_from_empty_text_when_deleting(packaged_tokenizer):
    model = KeyTokenModel(packaged_tokenizer.convert_tokens_to_ids(KEY))
    table = make_table(packaged_tokenizer, synthetic_texts(1), oracle, "oracle")
    curves = ev.insertion_curve(
        model,
        packaged_tokenizer,
        table,
        replacement="delete",
        random_baseline=False,
        fractions=[0.0],
        progress=False,
    )
    cls, sep = packaged_tokenizer.cls_token_id, packaged_tokenizer.sep_token_id
    assert [ids.tolist() for ids in model.seen] == [[cls, sep]]
    assert curves.points["probability"].iloc[0] == pytest.approx(LOW)


def test_random_explanation_scores_like_random_baseline(key_model, packaged_tokenizer):
    texts = synthetic_texts(300, seed=3)
    table = make_table(packaged_tokenizer, texts, oracle, "oracle")
    shuffled = ev.random_explanation(table, seed=1).assign(method="shuffled")
    both = concat([table, shuffled])
    deletion = ev.deletion_curve(key_model, packaged_tokenizer, both, progress=False)
    auc = deletion.auc.groupby("method")["auc"].mean()
    assert abs(auc["shuffled"] - auc["random"]) < 0.05
    assert auc["oracle"] < auc["random"] - 0.2
    comp = ev.aopc_comprehensiveness(key_model, packaged_tokenizer, both, progress=False)
    means = comp.groupby("method")["aopc_comprehensiveness"].mean()
    assert abs(means["shuffled"] - means["random"]) < 0.05
    assert means["oracle"] > means["random"] + 0.3


def test_deletion_curve_word_level_ranks_key_word_first(key_model, packaged_tokenizer):
    texts = [
        t.replace(KEY, "taxes", 1) + " unbelievably" for t in synthetic_texts(10)
    ]  # a multi-piece word too
    table = make_table(packaged_tokenizer, texts, oracle, "oracle")
    curves = ev.deletion_curve(key_model, packaged_tokenizer, table, level="word", progress=False)
    n_words = [len(t.split()) for t in texts]
    units = curves.points.drop_duplicates("doc_id").sort_values("doc_id")["n_units"].tolist()
    assert units == n_words
    auc = curves.auc.groupby("method")["auc"].mean()
    assert auc["oracle"] < auc["random"]


def test_deletion_curve_reuses_the_shared_masking(monkeypatch, key_model, packaged_tokenizer, key_tables):
    calls = []
    original = _masking.perturb

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_masking, "perturb", spy)
    ev.deletion_curve(key_model, packaged_tokenizer, key_tables, progress=False)
    ev.aopc_sufficiency(key_model, packaged_tokenizer, key_tables, progress=False)
    assert len(calls) >= 2 * key_tables["doc_id"].nunique()


# ------------------------------------------------------------------------------------------------- AOPC
def test_aopc_comprehensiveness_oracle_removes_all_evidence(key_model, packaged_tokenizer, key_tables):
    comp, per_bin = ev.aopc_comprehensiveness(
        key_model, packaged_tokenizer, key_tables, progress=False, per_bin=True
    )
    pd.testing.assert_frame_equal(
        comp, ev.aopc_comprehensiveness(key_model, packaged_tokenizer, key_tables, progress=False)
    )
    by_method = comp.groupby("method")["aopc_comprehensiveness"]
    np.testing.assert_allclose(
        comp.loc[comp["method"] == "oracle", "aopc_comprehensiveness"], HIGH - LOW, atol=1e-6
    )
    assert by_method.mean()["oracle"] > by_method.mean()["random"] > by_method.mean()["anti"]
    assert sorted(per_bin["bin"].unique()) == list(ev.ERASER_BINS)
    assert (per_bin["k"] >= 1).all()


def test_aopc_sufficiency_oracle_is_sufficient(key_model, packaged_tokenizer, key_tables):
    suff = ev.aopc_sufficiency(key_model, packaged_tokenizer, key_tables, progress=False)
    means = suff.groupby("method")["aopc_sufficiency"].mean()
    np.testing.assert_allclose(suff.loc[suff["method"] == "oracle", "aopc_sufficiency"], 0.0, atol=1e-6)
    assert means["oracle"] < means["random"] < means["anti"] + 1e-9


def test_aopc_table_has_intervals_and_comparison(key_model, packaged_tokenizer, key_tables):
    comp = ev.aopc_comprehensiveness(key_model, packaged_tokenizer, key_tables, progress=False)
    suff = ev.aopc_sufficiency(key_model, packaged_tokenizer, key_tables, progress=False)
    table = ev.aopc_table(comp, suff)
    assert list(table.index) == ["anti", "oracle", "random"]
    assert {
        "comprehensiveness",
        "comp_low",
        "comp_high",
        "sufficiency",
        "suff_low",
        "suff_high",
        "comp_vs_random",
    } <= set(table.columns)
    assert table.loc["oracle", "comp_vs_random"] > 0 > table.loc["anti", "comp_vs_random"]


def test_constant_explanation_behaves_like_random(key_model, packaged_tokenizer):
    table = make_table(
        packaged_tokenizer, synthetic_texts(200, seed=5), lambda toks: np.zeros(len(toks)), "zeros"
    )
    comp = ev.aopc_comprehensiveness(key_model, packaged_tokenizer, table, progress=False)
    means = comp.groupby("method")["aopc_comprehensiveness"].mean()
    assert abs(means["zeros"] - means["random"]) < 0.06  # ties are broken at random, not left to right


# ------------------------------------------------------------------------------------ real model pieces
def test_deletion_curve_starts_at_explained_probability(tiny_classifier):
    tokenizer, model = tiny_classifier
    texts = ["the nation is strong", "we will cut taxes for working families", "peace"]
    table = explain(model, tokenizer, texts, "loo", target="Republican", progress=False)
    curves = ev.deletion_curve(model, tokenizer, table, progress=False)
    start = curves.points[(curves.points["fraction"] == 0) & (curves.points["method"] == "loo")].sort_values(
        "doc_id"
    )
    expected = table.tokens.groupby("doc_id")["probability"].first().sort_index()
    np.testing.assert_allclose(start["probability"].to_numpy(), expected.to_numpy(), atol=1e-5)


def test_evaluation_with_every_method_on_tiny_bert(tiny_classifier):
    tokenizer, model = tiny_classifier
    texts = ["the nation is strong", "we will cut taxes for working families"]
    tables = concat(
        [
            explain(model, tokenizer, texts, "ig", n_steps=8, progress=False),
            explain(model, tokenizer, texts, "loo", progress=False),
            explain(model, tokenizer, texts, "atman", progress=False),
        ]
    )
    comp = ev.aopc_comprehensiveness(model, tokenizer, tables, progress=False)
    assert set(comp["method"]) == {"ig", "loo", "atman", "random"}
    assert comp["aopc_comprehensiveness"].between(-1, 1).all()
    pairs = ev.agreement(tables)
    assert len(pairs) == 3 * len(texts)
    matrix = ev.agreement_matrix(pairs)
    assert list(matrix.index) == ["atman", "ig", "loo"] and np.allclose(np.diag(matrix), 1.0)
    assert len(ev.disagreements(pairs, n=1)) == 1


# ------------------------------------------------------------------------------------------- agreement
def test_rank_agreement_of_a_table_with_itself_is_one(packaged_tokenizer):
    rng = np.random.default_rng(0)
    table = make_table(packaged_tokenizer, synthetic_texts(6), lambda toks: rng.normal(size=len(toks)), "a")
    result = ev.rank_agreement(table, table.assign(method="b"), k=3)
    assert len(result) == 6
    np.testing.assert_allclose(result[["spearman", "kendall", "top_k_overlap"]].to_numpy(), 1.0)


def test_rank_agreement_of_reversed_scores_is_minus_one(packaged_tokenizer):
    rng = np.random.default_rng(1)
    table = make_table(packaged_tokenizer, synthetic_texts(4), lambda toks: rng.normal(size=len(toks)), "a")
    reversed_ = table.assign(method="b", score=-table["score"])
    result = ev.rank_agreement(table, reversed_)
    np.testing.assert_allclose(result["spearman"], -1.0)
    np.testing.assert_allclose(ev.rank_agreement(table, reversed_, absolute=True)["spearman"], 1.0)


def test_rank_agreement_word_level_and_constant_scores(packaged_tokenizer):
    texts = ["unbelievably great taxes", "the nation"]
    table = make_table(packaged_tokenizer, texts, oracle, "a")
    flat = table.assign(method="flat", score=0.0)
    result = ev.rank_agreement(table, flat, level="word", k=1)
    assert result["n_units"].tolist() == [3, 2]
    assert result["spearman"].isna().all()  # undefined for constant scores, not a fake 0


@pytest.mark.parametrize(
    "make_b, message",
    [
        (lambda t: pd.concat([t, t.assign(method="c")]), "holds 2 methods"),
        (lambda t: t.assign(token="zzz"), "other tokens"),
        (lambda t: t.assign(doc_id=t["doc_id"] + 100), "share no document"),
    ],
)
def test_rank_agreement_bad_tables(packaged_tokenizer, make_b, message):
    table = make_table(packaged_tokenizer, synthetic_texts(2), oracle, "a")
    with pytest.raises(ValueError, match=message):
        ev.rank_agreement(table, make_b(table.assign(method="b")))


# -------------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(0).normal(1.0, 1.0, size=50)
    a = ev.bootstrap_ci(values, seed=3)
    assert a == ev.bootstrap_ci(values, seed=3)
    assert a != ev.bootstrap_ci(values, seed=4)
    assert a.low < a.estimate < a.high
    assert a.estimate == pytest.approx(values.mean())
    assert a.low < 1.0 < a.high
    median = ev.bootstrap_ci(values, statistic="median", seed=3)
    assert median.estimate == pytest.approx(np.median(values))


def test_bootstrap_ci_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small, large = ev.bootstrap_ci(rng.normal(size=20)), ev.bootstrap_ci(rng.normal(size=2000))
    assert large.high - large.low < (small.high - small.low) / 3


@pytest.mark.parametrize(
    "values, kwargs, error, message",
    [
        ("abc", {}, TypeError, "list, array or Series"),
        ([1.0], {}, ValueError, "at least 2"),
        ([1.0, np.nan, 2.0], {}, ValueError, "NaN"),
        ([[1.0, 2.0]], {}, ValueError, "1-D"),
        ([1.0, 2.0], {"statistic": "mode"}, ValueError, "statistic"),
        ([1.0, 2.0], {"n_boot": 10}, ValueError, "n_boot"),
        ([1.0, 2.0], {"level": 95}, ValueError, "level"),
    ],
)
def test_bootstrap_ci_bad_input(values, kwargs, error, message):
    with pytest.raises(error, match=message):
        ev.bootstrap_ci(values, **kwargs)


# ------------------------------------------------------------------------------------- random baseline
def test_random_explanation_keeps_rows_and_zeroes_special_tokens(packaged_tokenizer):
    table = make_table(packaged_tokenizer, synthetic_texts(3), oracle, "oracle")
    rand = ev.random_explanation(table, seed=7)
    assert len(rand) == len(table)
    assert (rand["method"] == "random").all()
    assert (rand.loc[rand["special"], "score"] == 0).all()
    pd.testing.assert_frame_equal(
        rand.drop(columns=["score", "method"]), table.drop(columns=["score", "method"]), check_dtype=False
    )
    assert rand["score"].equals(ev.random_explanation(table, seed=7)["score"])
    assert not rand["score"].equals(ev.random_explanation(table, seed=8)["score"])


# --------------------------------------------------------------------------------------------- sanity
def test_sanity_check_randomisation_changes_explanations(tiny_classifier):
    tokenizer, model = tiny_classifier
    before = {k: v.clone() for k, v in model.state_dict().items()}
    texts = [
        "we will cut taxes for working families and small businesses",
        "the state of our union is strong and our nation is at peace today",
    ]
    result = ev.sanity_check_randomisation(
        model, tokenizer, texts, ("loo", "atman", "ig"), options={"ig": {"n_steps": 4}}, progress=False
    )
    steps = ["original", "classifier", "layer 1", "layer 0", "embeddings"]
    assert list(result.drop_duplicates("step")["randomised"]) == steps
    first = result[result["step"] == 0]
    np.testing.assert_allclose(first[["spearman", "spearman_abs", "top_k_overlap"]].to_numpy(), 1.0)
    last = result[result["step"] == result["step"].max()].groupby("method")["spearman"].mean()
    assert (last < 0.9).all(), last
    for key, value in model.state_dict().items():  # the caller's model is untouched
        assert torch.equal(value, before[key]), key
    summary = ev.sanity_summary(result)
    assert len(summary) == 3 * len(steps)


def test_randomisation_steps_go_from_the_top_down(tiny_classifier):
    _, model = tiny_classifier
    names = [name for name, _ in ev.randomisation_steps(model)]
    assert names == ["classifier", "layer 1", "layer 0", "embeddings"]
    head = dict(ev.randomisation_steps(model))["classifier"]
    assert model.classifier in head and model.bert.pooler in head


def test_reinitialise_is_seeded():
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    ev.reinitialise(a, 0.02, torch.Generator().manual_seed(1))
    ev.reinitialise(b, 0.02, torch.Generator().manual_seed(1))
    assert torch.equal(a.weight, b.weight) and torch.count_nonzero(a.bias) == 0
    assert a.weight.std() < 0.1


def test_sanity_check_rejects_models_without_layers(key_model, packaged_tokenizer):
    with pytest.raises(TypeError, match="encoder"):
        ev.sanity_check_randomisation(key_model, packaged_tokenizer, ["taxes"], ("loo",), progress=False)


# ------------------------------------------------------------------------------------------------ cost
@pytest.mark.parametrize("memory", ["rss", "torch"])
def test_cost_table_counts_passes(tiny_classifier, memory):
    tokenizer, model = tiny_classifier
    texts = ["the nation is strong", "taxes"]
    cost = ev.cost_table(model, tokenizer, texts, {"ig": {"n_steps": 4}, "loo": {}}, memory=memory)
    assert list(cost.index) == ["ig", "loo"]
    assert cost.loc["ig", "backward_passes_per_doc"] == 4
    n_tokens = [len(tokenizer(t)["input_ids"]) - 2 for t in texts]
    assert cost.loc["loo", "forward_passes_per_doc"] == pytest.approx(np.mean(n_tokens) + 1)
    assert cost.loc["loo", "backward_passes_per_doc"] == 0
    assert (cost["seconds_per_doc"] > 0).all() and (cost["peak_memory_mb"] >= 0).all()


def test_cost_table_rejects_unknown_memory(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.raises(ValueError, match="memory='gpu'"):
        ev.cost_table(model, tokenizer, ["taxes"], ["loo"], memory="gpu")


def test_measure_peak_memory_sees_a_large_tensor():
    result, peak = ev.measure_peak_memory(lambda: float(torch.ones(4_000_000).sum()))  # 16 MB of float32
    assert result == 4_000_000.0
    assert 14 < peak < 64


# ----------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"fractions": [0.5, 1.5]}, ValueError, r"must lie in \[0, 1\]"),
        ({"fractions": "all"}, TypeError, "fractions must be a list"),
        ({"replacement": "blank"}, ValueError, "replacement='blank' is not supported"),
        ({"level": "sentence"}, ValueError, "level='sentence'"),
        ({"batch_size": 0}, ValueError, "batch_size=0"),
        ({"random_baseline": "yes"}, TypeError, "random_baseline"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ],
)
def test_deletion_curve_bad_options(key_model, packaged_tokenizer, key_tables, kwargs, error, message):
    with pytest.raises(error, match=message):
        ev.deletion_curve(key_model, packaged_tokenizer, key_tables, progress=False, **kwargs)


@pytest.mark.parametrize(
    "table, error, message",
    [
        ("not a table", TypeError, "must be a pandas DataFrame"),
        (pd.DataFrame({"doc_id": [0]}), ValueError, "lacks the column"),
        ([], TypeError, "non-empty list"),
    ],
)
def test_metrics_reject_bad_tables(key_model, packaged_tokenizer, table, error, message):
    with pytest.raises(error, match=message):
        ev.aopc_comprehensiveness(key_model, packaged_tokenizer, table, progress=False)


def test_metrics_reject_a_foreign_tokenizer(key_model, packaged_tokenizer, key_tables):
    foreign = key_tables.assign(token=key_tables["token"].where(key_tables["special"], "▁wörtchen"))
    with pytest.raises(ValueError, match="does not know"):
        ev.deletion_curve(key_model, packaged_tokenizer, foreign, progress=False)


def test_aopc_rejects_zero_bin(key_model, packaged_tokenizer, key_tables):
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        ev.aopc_sufficiency(key_model, packaged_tokenizer, key_tables, bins=[0.0, 0.1], progress=False)


def test_duplicate_method_runs_are_rejected(key_model, packaged_tokenizer, key_tables):
    with pytest.raises(ValueError, match="more than once"):
        ev.deletion_curve(key_model, packaged_tokenizer, [key_tables, key_tables], progress=False)


# --------------------------------------------------------------------------------------------- figures
def test_figures_are_matplotlib_figures(key_model, packaged_tokenizer, key_tables):
    from matplotlib.figure import Figure

    deletion = ev.deletion_curve(key_model, packaged_tokenizer, key_tables, progress=False)
    insertion = ev.insertion_curve(key_model, packaged_tokenizer, key_tables, progress=False)
    comp = ev.aopc_comprehensiveness(key_model, packaged_tokenizer, key_tables, progress=False)
    suff = ev.aopc_sufficiency(key_model, packaged_tokenizer, key_tables, progress=False)
    pairs = ev.agreement(key_tables)
    fake_sanity = pd.DataFrame(
        {
            "step": [0, 1, 0, 1],
            "randomised": ["original", "classifier"] * 2,
            "method": ["loo", "loo", "ig", "ig"],
            "doc_id": 0,
            "spearman": [1, 0.1, 1, 0.2],
            "spearman_abs": [1, 0.3, 1, 0.1],
        }
    )
    figures = [
        ev.curves_figure(deletion, insertion),
        ev.aopc_figure(ev.aopc_table(comp, suff)),
        ev.agreement_figure(ev.agreement_matrix(pairs)),
        ev.sanity_figure(fake_sanity),
    ]
    assert all(isinstance(f, Figure) for f in figures)
    with pytest.raises(TypeError, match="Curves"):
        ev.curves_figure(deletion.points)
