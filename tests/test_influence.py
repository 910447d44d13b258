"""Tests for course_utils.influence: head-only training-data attribution (influence functions, TracIn)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from course_utils import influence as inf

TEXTS = [
    "We will cut taxes for working families.",
    "Health care is a right.",
    "Freedom!",
    "Our economy is strong and our union is stronger than ever before in our history.",
]


@pytest.fixture
def blobs():
    """Two Gaussian classes in 5 dimensions (60 training, 6 test points) and a head fitted on them."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 2
    centres = torch.tensor([[1.0, 0.5, 0, 0, 0], [-1.0, -0.5, 0, 0, 0]])
    train = centres[labels] + torch.randn(60, 5, generator=gen)
    test = torch.randn(6, 5, generator=gen)
    head = inf.fit_head(train, labels, damping=0.05)
    with torch.no_grad():
        targets = head(test).argmax(1)
    return train, labels, test, targets, head


# --------------------------------------------------------------------------------------------- features
def test_training_features_head_reproduces_logits(tiny_classifier):
    tokenizer, model = tiny_classifier
    features = inf.training_features(model, tokenizer, TEXTS, batch_size=3, progress=False)
    assert features.shape == (len(TEXTS), model.config.hidden_size) and features.dtype == torch.float32
    with torch.no_grad():
        logits = torch.cat([model(**tokenizer([t], return_tensors="pt")).logits for t in TEXTS])
        assert torch.allclose(inf.classifier_head(model)(features), logits, atol=1e-5)


def test_training_features_accepts_series_and_truncates(tiny_classifier):
    tokenizer, model = tiny_classifier
    series = pd.Series(TEXTS, index=[10, 11, 12, 13])
    full = inf.training_features(model, tokenizer, series, progress=False)
    short = inf.training_features(model, tokenizer, TEXTS, max_length=8, progress=False)
    assert torch.allclose(full[1:3], short[1:3], atol=1e-5)  # 7 and 4 tokens: untouched by max_length=8
    assert not torch.allclose(full[3], short[3], atol=1e-4)  # the long text was cut at 8 tokens


# ------------------------------------------------------------------------------------------------ maths
def test_loss_gradients_and_hessian_match_autograd(blobs):
    train, labels, test, targets, head = blobs
    theta = torch.cat([head.weight, head.bias[:, None]], 1).detach().double()  # (C, hidden + 1)
    aug = torch.cat([train.double(), torch.ones(len(train), 1, dtype=torch.float64)], 1)

    def mean_loss(t):
        return torch.nn.functional.cross_entropy(aug @ t.reshape(theta.shape).T, labels)

    grads = inf.loss_gradients(head, train, labels)
    assert torch.allclose(
        grads.mean(0), torch.autograd.functional.jacobian(mean_loss, theta.reshape(-1)), atol=1e-10
    )
    exact = torch.autograd.functional.hessian(mean_loss, theta.reshape(-1))
    assert torch.allclose(
        inf.head_hessian(head, train, damping=0.3), exact + 0.3 * torch.eye(len(exact)), atol=1e-10
    )


def test_head_influence_shape_and_tracin_is_gradient_dot_product(blobs):
    train, labels, test, targets, head = blobs
    scores = inf.head_influence(head, train, labels, test, targets, method="tracin")
    expected = inf.loss_gradients(head, test, targets) @ inf.loss_gradients(head, train, labels).T
    assert scores.shape == (6, 60) and np.allclose(scores, expected.numpy())


def test_tracin_matches_captum_tracincp(blobs):
    train, labels, test, targets, head = blobs
    ours = inf.head_influence(head, train, labels, test, targets, method="tracin")
    theirs = inf.captum_tracin(head, train, labels, test, targets)
    assert np.allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_head_influence_duplicates_and_copies_of_the_test_point(blobs):
    train, labels, test, targets, head = blobs
    x = test[:1]
    other = 1 - targets[:1]
    features = torch.cat(
        [train, x, x, train[:1]]
    )  # two copies of the test point with its target, a duplicate of row 0
    y = torch.cat([labels, targets[:1], targets[:1], labels[:1]])
    scores = inf.head_influence(head, features, y, x, targets[:1])[0]
    assert scores[60] == pytest.approx(scores[61]) and scores[0] == pytest.approx(scores[62])
    assert (
        scores[60] > 0
    )  # a copy of the test point with its target: g_testᵀ H⁻¹ g_test / n > 0, always supporting
    flipped = inf.head_influence(head, features, torch.cat([y[:60], other, other, y[62:]]), x, targets[:1])[0]
    assert flipped[60] < 0 and flipped[60] == pytest.approx(flipped[61])  # with the other label it opposes


def test_influence_predicts_leave_one_out_retraining(blobs):
    """The sign convention, checked exactly: positive score = removing the example lowers p(target)."""
    train, labels, test, targets, _ = blobs
    head = inf.fit_head(train, labels, damping=0.05)
    scores = inf.head_influence(head, train, labels, test[:2], targets[:2], damping=0.05)  # (2, 60)
    probs = inf.retrain_without(
        train, labels, test[:2], targets[:2], [[]] + [[i] for i in range(60)], damping=0.05
    )
    actual = np.log(probs[1:]) - np.log(probs[:1])  # (60, 2): change of log p(target) when i is left out
    for j in range(2):
        assert np.corrcoef(-scores[j], actual[:, j])[0, 1] > 0.99
        assert np.sign(-scores[j]) @ np.sign(actual[:, j]) > 0.9 * 60
        assert actual[scores[j].argmax(), j] < 0 < actual[scores[j].argmin(), j]


def test_fit_head_is_the_regularised_optimum_and_matches_sklearn():
    from sklearn.linear_model import LogisticRegression

    gen = torch.Generator().manual_seed(1)
    labels = torch.arange(90) % 3
    features = torch.randn(90, 4, generator=gen) + torch.eye(3, 4)[labels] * 2
    head = inf.fit_head(features, labels, damping=0.1)
    aug = np.c_[features.numpy(), np.ones(90)]
    sk = LogisticRegression(C=1 / (90 * 0.1), fit_intercept=False, tol=1e-12, max_iter=10_000).fit(
        aug, labels.numpy()
    )
    sk_theta = sk.coef_ - sk.coef_.mean(0)  # the penalised softmax optimum has rows summing to zero
    ours = np.c_[head.weight.detach().numpy(), head.bias.detach().numpy()]
    assert np.allclose(ours, sk_theta, atol=1e-4)


def test_removal_check_on_a_constructed_case():
    """Five training points sit on the test point: removing them must hurt more than removing five at random."""
    gen = torch.Generator().manual_seed(2)
    labels = torch.arange(80) % 2
    train = torch.randn(80, 3, generator=gen) * 0.8 + torch.tensor([[2.0, 0, 0], [-2.0, 0, 0]])[labels]
    test = torch.tensor([[0.0, 3.0, 0.0]])
    train[:10:2] = test + 0.05 * torch.randn(5, 3, generator=gen)  # five class-0 points at the test point
    check = inf.removal_check(train, labels, test, [0], k=5, n_random=6, damping=0.01, progress=False)
    assert set(check["removed"]) == {"top supporting", "top opposing", "random"} and len(check) == 8
    by_kind = check.groupby("removed")["change"].mean()
    assert by_kind["top supporting"] < by_kind["random"] < by_kind["top opposing"]
    assert by_kind["top supporting"] < -0.1
    assert spearmanr(check["predicted_log_change"], check["log_change"]).statistic > 0.9
    top = check[check["removed"] == "top supporting"].iloc[0]
    assert (
        top["log_change"] < top["predicted_log_change"] < 0
    )  # right sign, but a coherent group is underestimated
    head = inf.fit_head(train, labels, damping=0.01)
    top5 = np.argsort(-inf.head_influence(head, train, labels, test, [0], damping=0.01)[0])[:5]
    assert set(top5) == {0, 2, 4, 6, 8}


# ----------------------------------------------------------------------------------------------- tables
def test_top_training_examples_is_tidy():
    train = pd.DataFrame(
        {"text": list("abcde"), "president": ["A", "A", "B", "B", "C"], "label": [0, 0, 1, 1, 1]},
        index=[100, 101, 102, 103, 104],
    )
    scores = np.array([[0.5, -0.2, 0.1, -0.9, 0.0], [0.0, 0.3, 0.2, 0.1, -0.1]])
    table = inf.top_training_examples(scores, train, test_ids=[7, 8], k=2)
    assert list(table.columns[:5]) == ["test_id", "direction", "rank", "train_id", "score"]
    assert {"text", "president", "label"} <= set(table.columns) and "year" not in table.columns
    assert len(table) == 8
    first = table[(table["test_id"] == 7) & (table["direction"] == "supporting")]
    assert first["train_id"].tolist() == [100, 102] and first["rank"].tolist() == [1, 2]
    opposing = table[(table["test_id"] == 7) & (table["direction"] == "opposing")]
    assert opposing["train_id"].tolist() == [103, 101] and opposing["text"].tolist() == ["d", "b"]


def test_group_share_counts_same_group_supporters_and_chance_levels():
    scores = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    shares = inf.group_share(
        scores, ["A", "B"], ["A", "B", "A", "B"], k=2, test_targets=[0, 1], train_labels=[0, 1, 0, 0]
    )
    assert shares["share_top"].tolist() == [0.5, 0.5] and shares["share_all"].tolist() == [0.5, 0.5]
    assert shares["share_label"].tolist() == [pytest.approx(2 / 3), 1.0]
    fig = inf.group_share_figure(shares, k=2)
    assert len(fig.axes[0].patches) == 2 * 3


# -------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"method": "shapley"}, ValueError, "method='shapley' is not supported; choose one of"),
        ({"damping": 0.0}, ValueError, "damping=0.0 is too small: use a number > 0"),
        ({"damping": "big"}, TypeError, "damping must be a number > 0, got str"),
        ({"train_features": torch.zeros(60, 4)}, ValueError, "has 4 columns but the head expects 5"),
        ({"test_features": torch.zeros(5)}, ValueError, r"shape \(n, hidden\)"),
        ({"train_features": [[0.0] * 5]}, TypeError, "must be a torch.Tensor or numpy array"),
        (
            {"train_labels": torch.zeros(59, dtype=torch.long)},
            ValueError,
            "59 class indices were expected|60 class indices",
        ),
        ({"train_labels": torch.full((60,), 2)}, ValueError, r"must be in 0..1"),
        ({"test_targets": np.zeros(6)}, TypeError, "integer class indices"),
        ({"test_targets": "Republican"}, TypeError, "sequence of class indices"),
        (
            {"head": torch.nn.Sequential(torch.nn.Linear(5, 2))},
            TypeError,
            "no single linear classification head",
        ),
    ],
)
def test_head_influence_rejects_bad_input(blobs, change, error, message):
    train, labels, test, targets, head = blobs
    args = {
        "head": head,
        "train_features": train,
        "train_labels": labels,
        "test_features": test,
        "test_targets": targets,
    } | change
    options = {k: args.pop(k) for k in ("method", "damping") if k in args}
    with pytest.raises(error, match=message):
        inf.head_influence(
            args["head"],
            args["train_features"],
            args["train_labels"],
            args["test_features"],
            args["test_targets"],
            **options,
        )


def test_tables_and_retraining_reject_bad_input(blobs):
    train, labels, test, targets, head = blobs
    frame = pd.DataFrame({"text": ["a", "b"]})
    with pytest.raises(ValueError, match=r"one column per row of train"):
        inf.top_training_examples(np.zeros((1, 3)), frame)
    with pytest.raises(ValueError, match="one id per row"):
        inf.top_training_examples(np.zeros((1, 2)), frame, test_ids=[1, 2])
    with pytest.raises(ValueError, match="k=0 is too small: use an integer ≥ 1"):
        inf.top_training_examples(np.zeros((1, 2)), frame, k=0)
    with pytest.raises(ValueError, match="one group per row"):
        inf.group_share(np.zeros((2, 3)), ["A"], ["A", "B", "C"])
    with pytest.raises(ValueError, match="give both"):
        inf.group_share(np.zeros((1, 2)), ["A"], ["A", "B"], test_targets=[0])
    with pytest.raises(ValueError, match="positions outside"):
        inf.retrain_without(train, labels, test, targets, [[60]])
    with pytest.raises(ValueError, match="texts must be non-empty"):
        inf.training_features(torch.nn.Linear(2, 2), None, ["ok", "  "])


def test_damping_table_finds_the_damping_a_head_was_trained_with(blobs):
    train, labels, *_ = blobs
    own = inf.fit_head(train, labels, damping=0.3)
    table = inf.damping_table(own, train, labels, dampings=(0.01, 0.3, 3.0))
    assert list(table.index) == [0.01, 0.3, 3.0] and table["logit_rmse"].idxmin() == 0.3
    assert table.loc[0.3, "logit_rmse"] < 1e-6 and table.loc[0.3, "agreement"] == 1.0
    assert inf.head_weight_norm(own) == pytest.approx(table.loc[0.3, "weight_norm"], rel=1e-5)
