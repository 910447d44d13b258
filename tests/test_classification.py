"""Tests for course_utils.classification: baseline, evaluation tables, errors worth explaining, figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from course_utils import classification as C
from course_utils.data import LABELS

DEM_WORDS = "families health care folks jobs working".split()
REP_WORDS = "freedom taxes great strong defense liberty".split()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def toy(rng):
    """40 paragraphs whose party is given away by its words (20 per party), plus shared filler."""
    texts, labels = [], []
    for i in range(40):
        label = i % 2
        words = list(rng.choice(REP_WORDS if label else DEM_WORDS, 5)) + ["the", "nation", "we"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels)


@pytest.fixture
def frame(rng):
    """A small load_sotu-like test split: 4 presidents, 2 speeches each, 5 paragraphs per speech."""
    rows = []
    for p, (pres, party, year) in enumerate(
        [
            ("A", "Democratic", 1990),
            ("B", "Republican", 2002),
            ("C", "Democratic", 2010),
            ("D", "Republican", 2018),
        ]
    ):
        for s in range(2):
            for k in range(5):
                rows.append(
                    {
                        "text": f"paragraph {p} {s} {k}",
                        "label": LABELS.index(party),
                        "party": party,
                        "president": pres,
                        "year": year + s,
                        "speech_id": f"{year + s}-{pres}-1",
                        "paragraph_id": f"{year + s}-{pres}-1-p{k:03d}",
                    }
                )
    return pd.DataFrame(rows)


def random_proba(rng, n):
    p1 = rng.uniform(0, 1, n)
    return np.column_stack([1 - p1, p1])


# ------------------------------------------------------------------------------------------ baseline
def test_tfidf_baseline_learns_separable_words(toy):
    texts, labels = toy
    pipe = C.tfidf_baseline(texts, labels, seed=0)
    assert (pipe.predict(texts) == labels).mean() == 1.0
    assert pipe.predict_proba(texts).shape == (len(texts), 2)


def test_tfidf_baseline_is_deterministic(toy):
    texts, labels = toy
    a = C.tfidf_baseline(texts, labels, seed=1).named_steps["logreg"].coef_
    b = C.tfidf_baseline(texts, labels, seed=1).named_steps["logreg"].coef_
    np.testing.assert_array_equal(a, b)


def test_top_coefficients_points_words_to_their_party(toy):
    texts, labels = toy
    top = C.top_coefficients(C.tfidf_baseline(texts, labels), k=3)
    assert list(top.columns) == ["word", "coefficient", "party", "rank"]
    assert len(top) == 6
    rep, dem = top[top.party == "Republican"], top[top.party == "Democratic"]
    assert set(rep.word) <= set(REP_WORDS) and set(dem.word) <= set(DEM_WORDS)
    assert (rep.coefficient > 0).all() and (dem.coefficient < 0).all()
    assert rep.coefficient.is_monotonic_decreasing and dem.coefficient.is_monotonic_increasing
    assert list(rep["rank"]) == [1, 2, 3]


@pytest.mark.parametrize(
    "texts, labels, error, match",
    [
        ("one text", [0], TypeError, "got one string"),
        ([1, 2], [0, 1], TypeError, r"train_texts\[0\] is a int \(1\), not a string"),
        ([], [], ValueError, "empty"),
        (["a b", "c d"], [0], ValueError, "has 1 items but 2"),
        (["a b", "c d"], [0, 2], ValueError, "must be in 0..1"),
        (["a b", "c d"], ["D", "R"], TypeError, "integer labels"),
        (["a b", "c d"], [1, 1], ValueError, "single class"),
    ],
)
def test_tfidf_baseline_bad_input(texts, labels, error, match):
    with pytest.raises(error, match=match):
        C.tfidf_baseline(texts, labels)


def test_top_coefficients_rejects_unfitted_model():
    with pytest.raises(TypeError, match="fitted tfidf_baseline"):
        C.top_coefficients(object())


# ---------------------------------------------------------------------------------------- overview
def test_counts_by_decade_sums_to_frame(frame):
    table = C.counts_by(frame, "decade")
    assert list(table.index) == ["1990s", "2000s", "2010s"]
    assert table["total"].sum() == len(frame)
    assert table.loc["2000s", "share_republican"] == 1.0


def test_counts_by_unknown_column(frame):
    with pytest.raises(ValueError, match="not a column"):
        C.counts_by(frame, "colour")


# -------------------------------------------------------------------------------------- mechanics
def test_padding_share_sorted_batches_pad_less(rng):
    from course_utils.models import length_sorted_batches

    lengths = rng.integers(5, 60, 200).tolist()
    random_batches = [list(range(i, min(i + 16, 200))) for i in range(0, 200, 16)]
    sorted_batches = length_sorted_batches(lengths, 16, np.random.default_rng(0))
    assert C.padding_share(lengths, sorted_batches) < C.padding_share(lengths, random_batches)
    assert C.padding_share([4, 4, 4], [[0, 1, 2]]) == 0.0
    assert C.padding_share([2, 4], [[0, 1]]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="only 2 items"):
        C.padding_share([2, 4], [[0, 2]])


def test_learning_rates_warm_up_then_decay():
    rates = C.learning_rates(100, learning_rate=1e-3, warmup=0.1)
    assert rates.shape == (100,)
    assert rates[0] == 0.0 and rates[10] == pytest.approx(1e-3)
    assert np.all(np.diff(rates[:11]) > 0) and np.all(np.diff(rates[10:]) < 0)
    np.testing.assert_allclose(rates[10:], 1e-3 * (100 - np.arange(10, 100)) / 90)


# -------------------------------------------------------------------------------------- evaluation
def test_evaluate_perfect_and_majority():
    y = np.array([0, 0, 0, 1])
    perfect = C.evaluate(y, y)
    assert perfect["accuracy"] == 1.0 and perfect["macro_f1"] == 1.0
    assert perfect["majority_accuracy"] == 0.75
    always_dem = C.evaluate(y, np.zeros(4, dtype=int))
    assert always_dem["accuracy"] == always_dem["majority_accuracy"]
    assert always_dem["macro_f1"] < always_dem["accuracy"]  # macro-F1 punishes ignoring a class


def test_evaluate_probability_scores(rng):
    y = rng.integers(0, 2, 50)
    sure_right = np.eye(2)[y]
    scores = C.evaluate(y, y, sure_right)
    assert scores["log_loss"] < 1e-6 and scores["brier"] == 0.0 and scores["calibration_error"] == 0.0
    coin = np.full((50, 2), 0.5)
    assert C.evaluate(y, y, coin)["log_loss"] == pytest.approx(np.log(2))


@pytest.mark.parametrize(
    "y_true, y_pred, proba, error, match",
    [
        ([0, 1], [0], None, ValueError, "y_pred has 1 items but 2"),
        ([0, 1], [0, 1], [[1, 0]], ValueError, r"shape \(2, 2\)"),
        ([0, 1], [0, 1], [[0.9, 0.9], [0.5, 0.5]], ValueError, "softmax"),
        ([], [], None, ValueError, "empty"),
        ([[0, 1]], [[0, 1]], None, ValueError, "one-dimensional"),
    ],
)
def test_evaluate_bad_input(y_true, y_pred, proba, error, match):
    with pytest.raises(error, match=match):
        C.evaluate(y_true, y_pred, proba)


def test_confusion_table_counts_and_rows():
    table = C.confusion_table([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    assert table.to_numpy().tolist() == [[1, 1], [1, 2]]
    assert list(table.index) == ["true Democratic", "true Republican"]
    np.testing.assert_allclose(C.confusion_table([0, 0, 1], [0, 1, 1], normalize=True).sum(axis=1), 1.0)


def test_per_group_accuracy_by_president(frame, rng):
    pred = frame["label"].to_numpy().copy()
    pred[frame.president == "B"] = 0  # B (Republican) misread as Democratic every time
    table = C.per_group_accuracy(frame, pred=pred)
    assert list(table.index) == ["A", "B", "C", "D"]  # chronological
    assert table.loc["B", "accuracy"] == 0.0 and table.loc["A", "accuracy"] == 1.0
    assert table.loc["B", "predicted_republican"] == 0.0 and table.loc["B", "party"] == "Republican"
    assert table["n"].sum() == len(frame)
    assert C.per_group_accuracy(frame, "decade", pred=pred).loc["2000s", "party"] == "Republican"


def test_per_group_accuracy_needs_predictions(frame):
    with pytest.raises(ValueError, match="predict_frame"):
        C.per_group_accuracy(frame)


def test_calibration_table_covers_all_examples(rng):
    y = rng.integers(0, 2, 300)
    proba = random_proba(rng, 300)
    table = C.calibration_table(y, proba, bins=5)
    assert table["n"].sum() == 300
    assert (
        (table["confidence"] >= table["lower"] - 1e-12) & (table["confidence"] <= table["upper"] + 1e-12)
    ).all()


def test_bootstrap_difference_sees_a_clear_winner(rng):
    y = rng.integers(0, 2, 200)
    good = np.where(rng.uniform(size=200) < 0.9, y, 1 - y)
    coin = rng.integers(0, 2, 200)
    out = C.bootstrap_difference(y, good, coin, n_boot=200)
    assert out["low"] > 0 and out["share_a_better"] == 1.0
    assert out["low"] <= out["difference"] <= out["high"]
    same = C.bootstrap_difference(y, good, good, n_boot=50, groups=np.arange(200) // 10, metric="accuracy")
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0, "share_a_better": 0.0}


def test_bootstrap_difference_bad_metric():
    with pytest.raises(ValueError, match="choose one of"):
        C.bootstrap_difference([0, 1], [0, 1], [1, 0], metric="auc")


def test_errors_worth_explaining_picks_confident_mistakes_and_hesitant_hits(frame, rng):
    proba = random_proba(rng, len(frame))
    errors = C.errors_worth_explaining(frame, proba, k=3)
    assert list(errors["kind"]) == ["confident mistake"] * 3 + ["hesitant hit"] * 3
    full = C._add_predictions(frame, proba, LABELS)
    wrong, right = full[~full.correct], full[full.correct]
    mistakes, hits = errors.iloc[:3], errors.iloc[3:]
    assert mistakes["confidence"].min() >= wrong["confidence"].nlargest(3).min()
    assert hits["confidence"].max() <= right["confidence"].nsmallest(3).max()
    assert (mistakes["party"] != mistakes["predicted"]).all() and (hits["party"] == hits["predicted"]).all()
    assert set(errors["paragraph_id"]) <= set(frame["paragraph_id"])


def test_errors_worth_explaining_accepts_predicted_frame(frame, rng):
    proba = random_proba(rng, len(frame))
    a = C.errors_worth_explaining(frame, proba, k=2)
    b = C.errors_worth_explaining(C._add_predictions(frame, proba, LABELS), k=2)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("k, error", [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_errors_worth_explaining_bad_k(frame, rng, k, error):
    with pytest.raises(error, match="k must be an integer|k=0 is too small"):
        C.errors_worth_explaining(frame, random_proba(rng, len(frame)), k=k)


# ------------------------------------------------------------------------------------ model + figures
@pytest.fixture(scope="module")
def tiny_classifier():
    """A 2-layer random BERT with a 2-class head and the packaged WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from course_utils.models import model_source

    tokenizer = AutoTokenizer.from_pretrained(model_source(None))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        num_labels=2,
    )
    return tokenizer, BertForSequenceClassification(config).eval()


def test_predict_frame_adds_consistent_columns(frame, tiny_classifier):
    tokenizer, model = tiny_classifier
    out = C.predict_frame(model, tokenizer, frame, max_length=16)
    assert len(out) == len(frame) and "text" in out
    np.testing.assert_allclose(out["p_Democratic"] + out["p_Republican"], 1.0, atol=1e-5)
    assert (out["confidence"] >= 0.5).all()
    assert (out["correct"] == (out["pred"] == out["label"])).all()
    assert set(out["predicted"]) <= set(LABELS)


def test_predict_frame_needs_text_column(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.raises(TypeError, match="'text' column"):
        C.predict_frame(model, tokenizer, pd.DataFrame({"body": ["x"]}))


def test_plots_draw_without_error(rng):
    y = rng.integers(0, 2, 40)
    proba = random_proba(rng, 40)
    ax = C.plot_confusion(C.confusion_table(y, proba.argmax(1)))
    assert len(ax.texts) == 4
    hist, reliability = C.plot_confidence(y, proba)
    assert reliability.get_lines()
    import matplotlib.pyplot as plt

    plt.close("all")


# ------------------------------------------------------------------------------------------ grouped_cv
def _grouped_toy(rng, n_groups=10, per_group=6):
    texts, labels, groups = [], [], []
    for g in range(n_groups):
        label = g % 2
        for _ in range(per_group):
            words = list(rng.choice(REP_WORDS if label else DEM_WORDS, 5)) + ["the", "nation", "we"]
            texts.append(" ".join(words))
            labels.append(label)
            groups.append(f"speech-{g}")
    return texts, np.array(labels), groups


def test_grouped_cv_holds_out_whole_groups(rng):
    texts, labels, groups = _grouped_toy(rng)
    folds = C.grouped_cv(texts, labels, groups, n_splits=5, seed=0)
    assert list(folds["fold"]) == list(range(5))
    assert folds["n_test"].sum() == len(texts)  # every paragraph held out exactly once
    assert folds["n_groups_test"].sum() == 10  # every group in exactly one fold
    assert (folds["n_train"] + folds["n_test"] == len(texts)).all()
    assert (folds["accuracy"] > 0.9).all()  # separable words: learned in every fold
    assert np.allclose(folds["margin"], folds["accuracy"] - folds["majority_accuracy"])


def test_group_folds_deal_each_labels_groups_evenly_and_do_not_depend_on_sklearn():
    groups = [f"s{i}" for i in range(10) for _ in range(3)]  # 10 groups of 3 rows
    labels = [0 if i < 6 else 1 for i in range(10) for _ in range(3)]  # 6 groups of label 0, 4 of label 1
    folds = C.group_folds(labels, groups, 2, seed=1)
    assert folds.shape == (30,) and set(folds) == {0, 1}
    rows = pd.DataFrame({"g": groups, "y": labels, "f": folds})
    assert rows.groupby("g")["f"].nunique().max() == 1  # a group never spans two folds
    by_group = rows.drop_duplicates("g")
    assert by_group.groupby(["f", "y"]).size().unstack().to_numpy().tolist() == [[3, 2], [3, 2]]
    assert (C.group_folds(labels, groups, 2, seed=1) == folds).all()  # no library randomness involved
    assert not (C.group_folds(labels, groups, 2, seed=2) == folds).all()


def test_grouped_cv_is_deterministic(rng):
    texts, labels, groups = _grouped_toy(rng)
    pd.testing.assert_frame_equal(
        C.grouped_cv(texts, labels, groups, seed=3), C.grouped_cv(texts, labels, groups, seed=3)
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_splits": 1}, ValueError, r"n_splits=1 must be between 2 and the number of groups \(10\)"),
        ({"n_splits": 11}, ValueError, "n_splits=11"),
        ({"n_splits": True}, TypeError, "n_splits must be an int"),
        ({"groups": ["a"] * 3}, ValueError, "groups has 3 entries but texts has 60"),
    ],
)
def test_grouped_cv_bad_input(rng, kwargs, error, match):
    texts, labels, groups = _grouped_toy(rng)
    with pytest.raises(error, match=match):
        C.grouped_cv(texts, labels, **({"groups": groups} | kwargs))
