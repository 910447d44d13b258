"""Which training examples drove a prediction: influence functions and TracIn on the classifier head.

Taught in notebook 07 (challenges and opportunities, section "Training-data attribution"). Feature
attribution (notebooks 03-05) explains *this input*; data attribution explains *what the model learned from*.

**The head-only view.** A ``BertForSequenceClassification`` computes ``logits = classifier(dropout(pooler))``:
the pooled ``[CLS]`` vector of the encoder (``tanh(W_p h_[CLS] + b_p)``, *hidden* numbers) goes through one
linear layer. In eval mode dropout is the identity, so with the encoder frozen the classifier is a
multinomial logistic regression on fixed features — ``hidden * labels + labels`` parameters (770 for the
MiniLM with two parties). Everything here is exact for that view, and cheap: gradients are closed-form
and the Hessian is a 770 × 770 matrix. What it ignores: fine-tuning also shaped the encoder.

**Sign convention** (both methods): a *positive* score means the training example **supports** the test
prediction — training on it lowered the test loss ``-log p(target | test)``, and removing it would lower
the target's probability. A negative score marks an **opposing** example.

- ``method="influence"`` (Koh & Liang, 2017): ``score_i = (1/n) g_testᵀ H⁻¹ g_i`` with ``g`` the gradient of
  the cross-entropy w.r.t. the head's parameters and ``H = (1/n) Σ_j ∇²ℓ_j + λI`` the damped Hessian of the
  mean training loss. It is the first-order estimate of how much the test loss rises when example ``i`` is
  left out and the head retrained; a sum of scores estimates leaving out the set. Units: log-probability.
- ``method="tracin"`` (Pruthi et al., 2020), one checkpoint: ``score_i = g_testᵀ g_i`` — the test-loss
  decrease of one gradient step on ``i`` per unit learning rate (the Hessian replaced by the identity).
  Captum's ``TracInCP`` gives the same numbers with one checkpoint and learning rate 1.

:func:`fit_head` retrains the head as L2-regularised logistic regression with the same ``λ`` (the damping
is then exactly the regulariser); :func:`damping_table` picks the ``λ`` whose retrained head is closest to
the fine-tuned one; :func:`removal_check` tests the influence estimates by retraining the head without the
most supportive training examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import _inference
from ._validation import check_choice, check_scalar
from .classification import _check_k

METHODS: tuple[str, ...] = ("influence", "tracin")
DEFAULT_DAMPING = 0.01
METADATA = ("text", "president", "party", "year", "label")


# ------------------------------------------------------------------------------------------ validation
def classifier_head(model) -> torch.nn.Linear:
    """The linear layer that maps pooled features to logits: ``model.classifier``, or ``model`` itself.

    Raises:
        TypeError: ``model`` is neither an ``nn.Linear`` nor a model whose ``classifier`` is one (e.g.
            RoBERTa's two-layer head): the head-only view needs a single linear layer.
    """
    head = model if isinstance(model, torch.nn.Linear) else getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear):
        raise TypeError(
            f"{type(model).__name__} has no single linear classification head (model.classifier): "
            "pass a BertForSequenceClassification or a torch.nn.Linear head"
        )
    return head


def _check_damping(damping) -> float:
    return check_scalar(
        damping,
        "damping",
        float,
        min_val=0,
        include_boundaries="neither",
        hint=f"(it keeps the Hessian invertible); try {DEFAULT_DAMPING}",
    )


def _check_features(features, name: str, hidden: int | None = None) -> torch.Tensor:
    """``features`` as a float64 tensor ``(n, hidden)`` with finite values."""
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    if not isinstance(features, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor or numpy array of shape (n, hidden), got {type(features).__name__}; "
            "compute it with influence.training_features(model, tokenizer, texts)"
        )
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"{name} must have shape (n, hidden) with n >= 1, got {tuple(features.shape)}")
    if hidden is not None and features.shape[1] != hidden:
        raise ValueError(
            f"{name} has {features.shape[1]} columns but the head expects {hidden} features: "
            "compute the features with the same model as the head"
        )
    out = features.detach().to("cpu", torch.float64)
    if not torch.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return out


def _check_classes(values, n: int, n_labels: int, name: str) -> torch.Tensor:
    """Class indices ``(n,)`` in ``0 .. n_labels - 1`` as an int64 tensor."""
    if isinstance(values, str) or np.ndim(values) == 0:
        raise TypeError(
            f"{name} must be a sequence of class indices (one per row), got {type(values).__name__} {values!r}"
        )
    arr = np.asarray(values.tolist() if isinstance(values, torch.Tensor) else values)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(
            f"{name} has shape {arr.shape} but {n} class indices were expected (one per feature row)"
        )
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must hold integer class indices, got dtype {arr.dtype}; map label names to indices first"
        )
    if arr.min() < 0 or arr.max() >= n_labels:
        raise ValueError(f"{name} must be in 0..{n_labels - 1}, got values from {arr.min()} to {arr.max()}")
    return torch.tensor(arr, dtype=torch.int64)


# -------------------------------------------------------------------------------------------- features
def training_features(
    model, tokenizer, texts, *, batch_size: int = 32, max_length: int | None = None, progress: bool = True
) -> torch.Tensor:
    """The pooled ``[CLS]`` vectors the classification head sees, one row per text (eval mode, no dropout, no
    gradients; the model's mode is restored afterwards).

    ``classifier_head(model)(features)`` reproduces ``model(**inputs).logits`` for the same texts.

    Args:
        model, tokenizer: a ``BertForSequenceClassification`` (with a pooler) and its tokenizer.
        texts: a list of strings or a pandas Series.
        batch_size: texts per forward pass (length-sorted, padded per batch).
        max_length: truncation in tokens (silent); use the length the model was trained with (64 for the course
            classifier); default the model's maximum.
        progress: show a progress bar.

    Returns:
        float32 tensor of shape ``(len(texts), hidden)`` on the CPU, rows in the order of ``texts``.
    """
    texts = list(texts) if not isinstance(texts, str) else [texts]
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if not texts or bad:
        raise ValueError(
            f"texts must be non-empty strings; texts[{bad[0] if bad else 0}] is not (drop or fill it)"
        )
    base = getattr(model, "base_model", None)
    if base is None or getattr(base, "pooler", None) is None:
        raise TypeError(
            f"{type(model).__name__} has no pooler: the head-only view needs a BertForSequenceClassification"
        )
    hidden = classifier_head(model).in_features
    max_length = max_length or _inference.model_max_length(model)
    ids = _inference.encode(tokenizer, texts, max_length, warn=False)[0]["input_ids"]
    return _inference.forward_rows(
        model,
        lambda batch: base(**batch).pooler_output,  # (batch, hidden)
        ids,
        batch_size,
        tokenizer.pad_token_id,
        width=hidden,
        side=tokenizer.padding_side,
        progress=progress,
        desc="features",
    )


# ------------------------------------------------------------------------------------------- the maths
def _augment(features: torch.Tensor) -> torch.Tensor:
    """``[f, 1]``: the bias as one more feature. (n, hidden + 1)"""
    return torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], dim=1)


def _theta(head: torch.nn.Linear) -> torch.Tensor:
    """The head's parameters ``[W | b]`` as a float64 matrix (n_labels, hidden + 1)."""
    return torch.cat([head.weight, head.bias[:, None]], dim=1).detach().to("cpu", torch.float64)


def _probabilities(theta: torch.Tensor, aug: torch.Tensor) -> torch.Tensor:
    return torch.softmax(aug @ theta.T, dim=1)  # (n, n_labels)


def loss_gradients(head, features, targets) -> torch.Tensor:
    """Per-example gradients of the cross-entropy ``-log p(target)`` w.r.t. the head's ``[W | b]``.

    For a linear softmax head the gradient is ``(p - onehot(target)) ⊗ [f, 1]`` (no autograd needed).

    Returns:
        float64 tensor ``(n, n_labels * (hidden + 1))``, parameters in the order of ``[W | b]`` row by row.
    """
    head = classifier_head(head)
    feats = _check_features(features, "features", head.in_features)
    targets = _check_classes(targets, len(feats), head.out_features, "targets")
    return _gradients(_theta(head), _augment(feats), targets)


def _gradients(theta: torch.Tensor, aug: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    residual = _probabilities(theta, aug)  # (n, n_labels)
    residual[torch.arange(len(aug)), targets] -= 1.0
    return (residual[:, :, None] * aug[:, None, :]).reshape(len(aug), -1)  # (n, n_labels * (hidden + 1))


def _hessian(theta: torch.Tensor, aug: torch.Tensor, damping: float) -> torch.Tensor:
    """``(1/n) Σ (diag(p) - p pᵀ) ⊗ f̃ f̃ᵀ + λI`` — the damped Hessian of the mean cross-entropy. (P, P)"""
    p = _probabilities(theta, aug)  # (n, C)
    n, c = p.shape
    d = aug.shape[1]
    blocks = torch.zeros(c, d, c, d, dtype=torch.float64)
    for a in range(c):
        for b in range(a, c):
            w = p[:, a] * (float(a == b) - p[:, b])  # (n,)
            blocks[a, :, b, :] = (aug * w[:, None]).T @ aug / n  # (d, d)
            blocks[b, :, a, :] = blocks[a, :, b, :]
    return blocks.reshape(c * d, c * d) + damping * torch.eye(c * d, dtype=torch.float64)


def head_hessian(head, features, *, damping: float = DEFAULT_DAMPING) -> torch.Tensor:
    """The damped Hessian of the mean training cross-entropy w.r.t. the head's parameters.

    It does not depend on the labels (a property of the softmax). Returns float64 ``(P, P)``,
    ``P = n_labels * (hidden + 1)``; symmetric positive definite for ``damping > 0``.
    """
    head = classifier_head(head)
    feats = _check_features(features, "features", head.in_features)
    return _hessian(_theta(head), _augment(feats), _check_damping(damping))


def head_influence(
    head,
    train_features,
    train_labels,
    test_features,
    test_targets,
    *,
    method: str = "influence",
    damping: float = DEFAULT_DAMPING,
) -> np.ndarray:
    """How much each training example supports each test prediction, through the classifier head.

    Args:
        head: the fine-tuned model (its ``classifier`` is used) or an ``nn.Linear`` head (e.g. :func:`fit_head`).
        train_features: ``(n_train, hidden)`` from :func:`training_features` on the training texts.
        train_labels: ``(n_train,)`` the training labels (int class indices).
        test_features: ``(n_test, hidden)``; test_targets: ``(n_test,)`` the class whose probability is
            explained, usually the predicted class.
        method: ``"influence"`` (Koh & Liang, damped Hessian) or ``"tracin"`` (gradient dot product).
        damping: ``λ`` added to the Hessian (only for ``"influence"``).

    Returns:
        float64 array ``(n_test, n_train)``. Positive = the training example supports the prediction
        (removing it would lower the target's probability); see the module docstring for the formulas.
        For ``"influence"``, ``scores[j, S].sum()`` estimates the drop in ``log p(target_j)`` when the set
        ``S`` is removed and the head retrained.
    """
    method = check_choice(method, "method", METHODS)
    head = classifier_head(head)
    train = _check_features(train_features, "train_features", head.in_features)
    test = _check_features(test_features, "test_features", head.in_features)
    labels = _check_classes(train_labels, len(train), head.out_features, "train_labels")
    targets = _check_classes(test_targets, len(test), head.out_features, "test_targets")
    theta = _theta(head)
    g_train = _gradients(theta, _augment(train), labels)  # (n_train, P)
    g_test = _gradients(theta, _augment(test), targets)  # (n_test, P)
    if method == "tracin":
        return (g_test @ g_train.T).numpy()
    hessian = _hessian(theta, _augment(train), _check_damping(damping))  # (P, P)
    solved = torch.linalg.solve(hessian, g_test.T)  # H⁻¹ g_test: (P, n_test)
    return (solved.T @ g_train.T / len(train)).numpy()


# ----------------------------------------------------------------------------------------- the tables
def top_training_examples(
    scores,
    train: pd.DataFrame,
    test_ids: Sequence | None = None,
    *,
    k: int = 5,
    columns: Sequence[str] = METADATA,
) -> pd.DataFrame:
    """The ``k`` most supporting and ``k`` most opposing training examples of each test example, tidy.

    Args:
        scores: ``(n_test, n_train)`` from :func:`head_influence`; columns in the order of ``train``'s rows.
        train: the training frame (e.g. the train split of ``load_sotu``); its index becomes ``train_id``.
        test_ids: one id per row of ``scores`` (e.g. the test frame's index); default ``0 … n_test-1``.
        k: examples per direction; columns: metadata columns of ``train`` to copy (those present).

    Returns:
        DataFrame with one row per (test, train) pair: ``test_id, direction ("supporting" | "opposing"),
        rank (1 = strongest), train_id, score`` and the ``columns`` of ``train``; 2k rows per test id,
        supporting ones by decreasing score, opposing ones by increasing score.
    """
    scores = np.asarray(scores, dtype=float)
    if not isinstance(train, pd.DataFrame):
        raise TypeError(f"train must be a DataFrame (the training rows), got {type(train).__name__}")
    if scores.ndim != 2 or scores.shape[1] != len(train):
        raise ValueError(
            f"scores must have shape (n_test, {len(train)}) — one column per row of train — got {scores.shape}"
        )
    test_ids = np.arange(len(scores)) if test_ids is None else np.asarray(list(test_ids))
    if len(test_ids) != len(scores):
        raise ValueError(
            f"test_ids has {len(test_ids)} ids but scores has {len(scores)} rows: give one id per row"
        )
    k = min(_check_k(k), len(train))
    keep = [c for c in columns if c in train.columns]
    rows = []
    for test_id, row in zip(test_ids, scores):
        order = np.argsort(-row, kind="stable")
        for direction, picks in (("supporting", order[:k]), ("opposing", order[::-1][:k])):
            rows.append(
                pd.DataFrame(
                    {
                        "test_id": test_id,
                        "direction": direction,
                        "rank": np.arange(1, len(picks) + 1),
                        "train_id": train.index.to_numpy()[picks],
                        "score": row[picks],
                    }
                )
            )
    table = pd.concat(rows, ignore_index=True)
    return table.join(train[keep], on="train_id")


def group_share(
    scores, test_groups, train_groups, *, k: int = 10, test_targets=None, train_labels=None
) -> pd.DataFrame:
    """How often the ``k`` most supporting training examples share the test example's group (e.g. president).

    Args:
        scores: ``(n_test, n_train)`` from :func:`head_influence`.
        test_groups: ``(n_test,)`` group of each test example; train_groups: ``(n_train,)``.
        k: how many top supporters to look at.
        test_targets, train_labels: optional; give both to add the chance level among training examples
            whose label is the test target (supporters of a prediction mostly carry the predicted label).

    Returns:
        DataFrame, one row per test example: ``group``, ``share_top`` (share of the top-k supporters in the
        same group), ``share_all`` (the group's share of all training examples: chance if supporters were
        drawn at random) and, with labels, ``share_label`` (the group's share among training examples
        labelled like the test target: chance if supporters were drawn at random from that class).
    """
    scores = np.asarray(scores, dtype=float)
    test_groups, train_groups = np.asarray(test_groups), np.asarray(train_groups)
    if scores.shape != (len(test_groups), len(train_groups)):
        raise ValueError(
            f"scores has shape {scores.shape} but there are {len(test_groups)} test and "
            f"{len(train_groups)} training groups: give one group per row and per column"
        )
    k = min(_check_k(k), len(train_groups))
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (n_test, k)
    same = train_groups[None, :] == test_groups[:, None]  # (n_test, n_train)
    out = pd.DataFrame(
        {
            "group": test_groups,
            "share_top": np.take_along_axis(same, top, axis=1).mean(axis=1),
            "share_all": same.mean(axis=1),
        }
    )
    if (test_targets is None) != (train_labels is None):
        raise ValueError(
            "give both test_targets and train_labels (for the within-class chance level), or neither"
        )
    if test_targets is not None:
        n_labels = int(max(np.max(np.asarray(test_targets)), np.max(np.asarray(train_labels)))) + 1
        targets = _check_classes(test_targets, len(test_groups), n_labels, "test_targets").numpy()
        labels = _check_classes(train_labels, len(train_groups), n_labels, "train_labels").numpy()
        in_class = labels[None, :] == targets[:, None]  # (n_test, n_train)
        out["share_label"] = (same & in_class).sum(axis=1) / np.maximum(in_class.sum(axis=1), 1)
    return out


def group_share_figure(
    shares: pd.DataFrame, *, k: int | None = None, group_name: str = "group", title: str | None = None
):
    """Bars per group: the share of top supporters from the test example's own group vs. the chance levels.

    Args:
        shares: :func:`group_share`'s table (``share_label`` drawn when present).
        k: the number of top supporters (for the legend); group_name: what a group is (for the axis label).

    Returns:
        a matplotlib ``Figure`` (one bar group per test group, its number of test examples under its name).
    """
    from matplotlib.figure import Figure

    from .plotting import OKABE_ITO

    columns = {
        "share_top": (f"top-{k} supporters" if k else "top supporters", OKABE_ITO["vermillion"]),
        "share_label": ("chance within the predicted class", OKABE_ITO["blue"]),
        "share_all": ("chance among all training", OKABE_ITO["black"]),
    }
    columns = {c: v for c, v in columns.items() if c in shares}
    means = shares.groupby("group")[list(columns)].mean()
    counts = shares.groupby("group").size()
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.subplots()
    x, width = np.arange(len(means)), 0.8 / len(columns)
    for i, (column, (label, colour)) in enumerate(columns.items()):
        ax.bar(
            x + (i - (len(columns) - 1) / 2) * width,
            means[column],
            width,
            label=label,
            color=colour,
            alpha=1.0 if column == "share_top" else 0.6,
        )
    ax.set_xticks(x, [f"{g}\n({counts[g]} test paragraphs)" for g in means.index], fontsize=8)
    ax.set(
        ylabel=f"share by the same {group_name}",
        title=title or f"Do the top supporters share the {group_name}?",
    )
    ax.legend(frameon=False, fontsize=8)
    return fig


def captum_tracin(head, train_features, train_labels, test_features, test_targets) -> np.ndarray:
    """TracIn scores from Captum's ``TracInCP`` on the head (one checkpoint: the current weights, learning
    rate 1) — a cross-check of ``head_influence(..., method="tracin")``. Returns ``(n_test, n_train)``."""
    import warnings

    from captum.influence import TracInCP
    from torch.utils.data import TensorDataset

    head = classifier_head(head)
    train = _check_features(train_features, "train_features", head.in_features).to(head.weight.dtype)
    test = _check_features(test_features, "test_features", head.in_features).to(head.weight.dtype)
    labels = _check_classes(train_labels, len(train), head.out_features, "train_labels")
    targets = _check_classes(test_targets, len(test), head.out_features, "test_targets")
    device = head.weight.device  # TracInCP runs the head on these: put them where the head is
    train, labels, test, targets = train.to(device), labels.to(device), test.to(device), targets.to(device)
    tracin = TracInCP(
        head,
        TensorDataset(train, labels),
        ["current weights"],
        checkpoints_load_func=lambda model, path: 1.0,
        loss_fn=torch.nn.CrossEntropyLoss(reduction="sum"),
        batch_size=256,
        sample_wise_grads_per_batch=True,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
        return tracin.influence((test, targets), k=None).detach().double().cpu().numpy()


# -------------------------------------------------------------------------------- retraining the head
def fit_head(
    features,
    labels,
    *,
    damping: float = DEFAULT_DAMPING,
    n_labels: int | None = None,
    init: torch.nn.Linear | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> torch.nn.Linear:
    """Train a linear softmax head on frozen features: L2-regularised multinomial logistic regression.

    Minimises ``(1/n) Σ CE(W f_i + b, y_i) + (λ/2) ‖[W | b]‖²`` with Newton's method (exact Hessian, a
    backtracking line search), so the damping of :func:`head_influence` is exactly the regulariser and the
    fit is deterministic. Converges in a handful of steps; ``init`` (e.g. the full fit) warm-starts it.

    Returns:
        ``nn.Linear(hidden, n_labels)`` in float32 holding the optimum (``n_labels`` default: ``max(labels) + 1``).

    Raises:
        RuntimeError: no convergence within ``max_iter`` steps (raise ``damping``).
    """
    feats = _check_features(features, "features")
    damping = _check_damping(damping)
    n_labels = int(n_labels) if n_labels is not None else int(np.max(np.asarray(labels))) + 1
    labels = _check_classes(labels, len(feats), n_labels, "labels")
    aug = _augment(feats)
    theta = _theta(init) if init is not None else torch.zeros(n_labels, aug.shape[1], dtype=torch.float64)
    if theta.shape != (n_labels, aug.shape[1]):
        raise ValueError(f"init has shape {tuple(theta.shape)} but ({n_labels}, {aug.shape[1]}) was needed")

    def objective(t):
        log_p = torch.log_softmax(aug @ t.T, dim=1)
        return -log_p[torch.arange(len(aug)), labels].mean() + damping / 2 * (t**2).sum()

    for _ in range(max_iter):
        grad = _gradients(theta, aug, labels).mean(0).reshape(theta.shape) + damping * theta
        if grad.abs().max() < tol:
            break
        step = torch.linalg.solve(_hessian(theta, aug, damping), grad.reshape(-1)).reshape(theta.shape)
        value, size = objective(theta), 1.0
        while objective(theta - size * step) > value - 1e-4 * size * (grad * step).sum() and size > 1e-8:
            size /= 2
        theta = theta - size * step
    else:
        raise RuntimeError(
            f"fit_head did not converge in {max_iter} Newton steps; raise damping (now {damping})"
        )
    head = torch.nn.Linear(aug.shape[1] - 1, n_labels)
    with torch.no_grad():
        head.weight.copy_(theta[:, :-1])
        head.bias.copy_(theta[:, -1])
    return head


def damping_table(
    model, train_features, train_labels, dampings: Sequence[float] = (0.01, 0.1, 1.0, 3.0)
) -> pd.DataFrame:
    """How well a head retrained on the frozen features (:func:`fit_head`) reproduces the model's own head,
    for each damping. The damping whose refit is closest is a principled choice for :func:`head_influence`:
    the retraining experiments then describe a head that behaves like the fine-tuned one.

    Returns:
        DataFrame indexed by ``damping`` with ``logit_rmse`` (root mean square difference of the centred
        logits on the training features; smaller = closer), ``agreement`` (share of training examples with
        the same predicted class) and ``weight_norm`` (of the refitted ``[W | b]``; the model's own is
        :func:`head_weight_norm`).
    """
    head = classifier_head(model)
    train = _check_features(train_features, "train_features", head.in_features)
    labels = _check_classes(train_labels, len(train), head.out_features, "train_labels")
    theta = _theta(head)
    own = _augment(train) @ theta.T  # (n, C)
    rows = []
    for damping in dampings:
        refit = _theta(fit_head(train, labels, damping=damping, n_labels=head.out_features))
        logits = _augment(train) @ refit.T  # (n, C)
        diff = (logits - logits.mean(1, keepdim=True)) - (own - own.mean(1, keepdim=True))
        rows.append(
            {
                "damping": float(damping),
                "logit_rmse": diff.pow(2).mean().sqrt().item(),
                "agreement": (logits.argmax(1) == own.argmax(1)).double().mean().item(),
                "weight_norm": refit.norm().item(),
            }
        )
    return pd.DataFrame(rows).set_index("damping")


def head_weight_norm(model) -> float:
    """The norm of the model's own classifier head ``[W | b]``: the reference for :func:`damping_table`'s
    ``weight_norm`` column."""
    return _theta(classifier_head(model)).norm().item()


def retrain_without(
    train_features,
    train_labels,
    test_features,
    test_targets,
    removals: Sequence[Sequence[int]],
    *,
    damping: float = DEFAULT_DAMPING,
    n_labels: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Retrain the head (:func:`fit_head`) once per set of removed training rows; the test targets' probabilities.

    Args:
        removals: a list of sets of training row positions (``0 … n_train-1``) to leave out; ``[]`` = none.

    Returns:
        float64 array ``(len(removals), n_test)``: ``p(target_j | test_j)`` after retraining without each set.
    """
    train = _check_features(train_features, "train_features")
    test = _check_features(test_features, "test_features", train.shape[1])
    n_labels = int(n_labels) if n_labels is not None else int(np.max(np.asarray(train_labels))) + 1
    labels = _check_classes(train_labels, len(train), n_labels, "train_labels")
    targets = _check_classes(test_targets, len(test), n_labels, "test_targets")
    full = fit_head(train, labels, damping=damping, n_labels=n_labels)
    out = np.zeros((len(removals), len(test)))
    for r, removed in enumerate(tqdm(removals, desc="retraining the head", disable=not progress)):
        removed = np.asarray(list(removed), dtype=int)
        if removed.size and (removed.min() < 0 or removed.max() >= len(train)):
            raise ValueError(
                f"removals[{r}] holds positions outside 0..{len(train) - 1}: give training row positions"
            )
        keep = np.setdiff1d(np.arange(len(train)), removed)
        head = fit_head(train[keep], labels[keep], damping=damping, n_labels=n_labels, init=full)
        p = _probabilities(_theta(head), _augment(test))  # (n_test, C)
        out[r] = p[torch.arange(len(test)), targets].numpy()
    return out


def removal_check(
    train_features,
    train_labels,
    test_features,
    test_targets,
    *,
    k: int = 20,
    n_random: int = 5,
    damping: float = DEFAULT_DAMPING,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Test the influence estimates by retraining: leave out each test example's top-``k`` supporting
    (and opposing) training examples, and ``n_random`` random sets of ``k``, and refit the head.

    Influence is computed at the retrained-on-everything head (:func:`fit_head`, same ``damping``), where
    Koh & Liang's first-order estimate applies: removing set ``S`` changes ``log p(target)`` by about
    ``-scores[S].sum()``. For a large, coherent set the estimate usually keeps the sign and the ranking but
    underestimates the change (Koh et al., 2019, "On the accuracy of influence functions for measuring
    group effects").

    Returns:
        DataFrame, one row per (test example, removed set): ``test_id`` (row position), ``removed``
        ("top supporting", "top opposing", "random"), ``draw``, ``k``, ``p_full``, ``p_without``, ``change``
        (``p_without - p_full``), ``log_change`` (actual change of ``log p``) and ``predicted_log_change``
        (``-`` the summed influence scores).
    """
    k, n_random = _check_k(k), _check_k(n_random, "n_random")
    train = _check_features(train_features, "train_features")
    n_labels = int(max(np.max(np.asarray(train_labels)), np.max(np.asarray(test_targets)))) + 1
    full = fit_head(train, train_labels, damping=damping, n_labels=n_labels)
    scores = head_influence(
        full, train, train_labels, test_features, test_targets, damping=damping
    )  # (n_test, n_train)
    rng = np.random.default_rng(seed)
    plan = []  # (test position, kind, draw, removed positions)
    for j, row in enumerate(scores):
        order = np.argsort(-row, kind="stable")
        plan += [(j, "top supporting", 0, order[:k]), (j, "top opposing", 0, order[::-1][:k])]
        plan += [(j, "random", d, rng.choice(len(train), size=k, replace=False)) for d in range(n_random)]
    probs = retrain_without(
        train,
        train_labels,
        test_features,
        test_targets,
        [[]] + [p[3] for p in plan],
        damping=damping,
        n_labels=n_labels,
        progress=progress,
    )  # (1 + len(plan), n_test)
    rows = [
        {
            "test_id": j,
            "removed": kind,
            "draw": d,
            "k": k,
            "p_full": probs[0, j],
            "p_without": probs[1 + i, j],
            "predicted_log_change": -scores[j, removed].sum(),
        }
        for i, (j, kind, d, removed) in enumerate(plan)
    ]
    table = pd.DataFrame(rows)
    table["change"] = table["p_without"] - table["p_full"]
    table["log_change"] = np.log(table["p_without"]) - np.log(table["p_full"])
    return table
