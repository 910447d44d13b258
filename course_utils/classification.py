"""Judging a party classifier: a bag-of-words baseline, evaluation tables and figures, errors worth explaining.

Taught in notebook 02 (fine-tuning). Notebooks 03–05 call :func:`predict_frame` and
:func:`errors_worth_explaining` to pick the paragraphs they explain.

The conventions follow :mod:`course_utils.data`: labels are integers (0 = Democratic, 1 = Republican),
``proba`` is an ``(n, 2)`` array of class probabilities (as returned by
:func:`course_utils.models.predict_proba`) whose rows sum to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import _validation
from .data import LABELS, SPLITS

__all__ = [
    "tfidf_baseline",
    "top_coefficients",
    "counts_by",
    "padding_share",
    "learning_rates",
    "predict_frame",
    "evaluate",
    "confusion_table",
    "per_group_accuracy",
    "calibration_table",
    "bootstrap_difference",
    "grouped_cv",
    "errors_worth_explaining",
    "plot_confusion",
    "plot_confidence",
]


# ------------------------------------------------------------------------------------------ validation
def _check_texts(texts, name: str = "texts") -> list[str]:
    """``texts`` as a list of strings (a Series or any sequence of str is accepted; one string is not)."""
    return _validation.check_texts(texts, name, allow_single=False, allow_blank=True)


def _check_labels(
    labels, n: int | None = None, name: str = "labels", n_labels: int = len(LABELS)
) -> np.ndarray:
    """``labels`` as an int array of values in ``0 .. n_labels - 1`` (length ``n`` when given)."""
    if isinstance(labels, str):
        raise TypeError(f"{name} must be a sequence of integer labels, got a string")
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one label per text), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(int)
        else:
            raise TypeError(
                f"{name} must hold integer labels (0 = {LABELS[0]}, 1 = {LABELS[1]}), got dtype {arr.dtype}"
            )
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} items but {n} were expected: give one label per text")
    if arr.size and (arr.min() < 0 or arr.max() >= n_labels):
        raise ValueError(f"{name} must be in 0..{n_labels - 1}, got values from {arr.min()} to {arr.max()}")
    return arr.astype(int)


def _check_proba(proba, n: int, n_labels: int = len(LABELS)) -> np.ndarray:
    """``proba`` as a float array of shape ``(n, n_labels)`` whose rows sum to 1."""
    arr = np.asarray(proba, dtype=float)
    if arr.shape != (n, n_labels):
        raise ValueError(
            f"proba must have shape ({n}, {n_labels}) (one row of class probabilities per text), got {arr.shape}; "
            "pass the output of models.predict_proba for the same texts"
        )
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or not np.allclose(arr.sum(axis=1), 1, atol=1e-4):
        raise ValueError(
            "proba rows must be probabilities (non-negative, summing to 1): apply softmax to logits first"
        )
    return arr / arr.sum(axis=1, keepdims=True)  # float32 softmax rows can miss 1 by ~1e-7


def _check_labels_names(labels) -> tuple[str, ...]:
    if isinstance(labels, str) or not all(isinstance(x, str) for x in labels) or len(labels) < 2:
        raise TypeError(
            f"labels must be a tuple of at least two class names such as {LABELS}, got {labels!r}"
        )
    return tuple(labels)


def _check_k(k, name: str = "k") -> int:
    return _validation.check_positive_int(k, name)


# -------------------------------------------------------------------------------------------- baseline
def tfidf_baseline(
    train_texts,
    train_labels,
    *,
    seed: int = 42,
    C: float = 1.0,
    ngram_range: tuple[int, int] = (1, 1),
    min_df: int = 2,
):
    """A transparent bag-of-words classifier: TF-IDF word weights + logistic regression, fitted.

    The vectoriser lower-cases, keeps words seen in at least ``min_df`` training paragraphs and uses
    sublinear term frequency (1 + log tf); the logistic regression has an L2 penalty of strength 1/``C``.
    The fit is deterministic (lbfgs solver, ``random_state=seed``).

    Args:
        train_texts: sequence of n paragraphs (list or pandas Series of str).
        train_labels: n integer labels (0 = Democratic, 1 = Republican).
        seed: random state of the logistic regression (default 42).
        C: inverse regularisation strength (default 1.0).
        ngram_range: word n-grams to use, default unigrams ``(1, 1)``.
        min_df: minimum number of training paragraphs a word must appear in (default 2).

    Returns:
        a fitted scikit-learn ``Pipeline`` with steps ``"tfidf"`` and ``"logreg"``; ``.predict(texts)``
        gives labels, ``.predict_proba(texts)`` an ``(n, 2)`` array.

    Taught in notebook 02 (fine-tuning): the interpretable reference point.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    texts = _check_texts(train_texts, "train_texts")
    labels = _check_labels(train_labels, len(texts), "train_labels")
    if len(np.unique(labels)) < 2:
        raise ValueError("train_labels hold a single class: the baseline needs paragraphs of both parties")
    if not (isinstance(C, (int, float)) and C > 0):
        raise ValueError(f"C must be a positive number, got {C!r}")
    pipe = Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    lowercase=True, min_df=min_df, ngram_range=tuple(ngram_range), sublinear_tf=True
                ),
            ),
            ("logreg", LogisticRegression(C=C, max_iter=2000, random_state=seed)),
        ]
    )
    return pipe.fit(texts, labels)


def top_coefficients(pipeline, k: int = 15, labels: Sequence[str] = LABELS) -> pd.DataFrame:
    """The ``k`` words pushing hardest towards each party in a fitted :func:`tfidf_baseline`.

    Returns:
        DataFrame with ``2 * k`` rows (fewer if the vocabulary is smaller) and columns ``word``,
        ``coefficient`` (log-odds of ``labels[1]`` per unit of TF-IDF weight; positive → ``labels[1]``),
        ``party`` (the party the word points to) and ``rank`` (1 = strongest within its party);
        ``labels[1]`` words first, strongest first, then ``labels[0]`` words, strongest first.

    Taught in notebook 02 (fine-tuning).
    """
    k = _check_k(k)
    labels = _check_labels_names(labels)
    steps = getattr(pipeline, "named_steps", {})
    if "tfidf" not in steps or "logreg" not in steps or not hasattr(steps["logreg"], "coef_"):
        raise TypeError(
            "pipeline must be a fitted tfidf_baseline(...) (a Pipeline with 'tfidf' and 'logreg' steps)"
        )
    words = steps["tfidf"].get_feature_names_out()
    coef = steps["logreg"].coef_[0]
    order = np.lexsort((words, -coef))  # strongest positive first; ties broken alphabetically
    k = min(k, len(words) // 2)
    pos, neg = order[:k], order[::-1][:k]
    rows = [(words[i], float(coef[i]), labels[1], r + 1) for r, i in enumerate(pos)]
    rows += [(words[i], float(coef[i]), labels[0], r + 1) for r, i in enumerate(neg)]
    return pd.DataFrame(rows, columns=["word", "coefficient", "party", "rank"])


# ----------------------------------------------------------------------------------------- data overview
def counts_by(df: pd.DataFrame, by: str = "president") -> pd.DataFrame:
    """Paragraphs per ``by`` and party, with the total and the Republican share.

    Args:
        df: a :func:`course_utils.data.load_sotu` frame (needs ``party``; ``year`` for ``by="decade"``).
        by: a column of ``df`` (``"split"``, ``"president"`` …) or ``"decade"`` (computed from ``year``).

    Returns:
        DataFrame indexed by the values of ``by`` (train/validation/test for ``"split"``, else in order of
        first appearance, i.e. chronological for a year-sorted frame) with one count column per party,
        ``total`` and ``share_republican``.

    Taught in notebook 02 (fine-tuning).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame (from data.load_sotu), got {type(df).__name__}")
    if by == "decade" and "decade" not in df:
        if "year" not in df:
            raise ValueError("by='decade' needs a 'year' column in df")
        df = df.assign(decade=(df["year"] // 10 * 10).astype(str) + "s")
    if by not in df:
        raise ValueError(f"by={by!r} is not a column of df; choose 'decade' or one of {list(df.columns)}")
    table = pd.crosstab(df[by], df["party"]).reindex(columns=list(LABELS), fill_value=0)
    order = [s for s in SPLITS if s in set(df[by])] if by == "split" else pd.unique(df[by])
    table = table.reindex(order)
    table["total"] = table[list(LABELS)].sum(axis=1)
    table["share_republican"] = (table[LABELS[1]] / table["total"]).round(3)
    table.columns.name = None
    return table


# ------------------------------------------------------------------------------------ training mechanics
def padding_share(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of ``[PAD]`` tokens when each batch is padded to its own longest sequence (dynamic padding).

    Args:
        lengths: token count of each sequence.
        batches: lists of indices into ``lengths`` (e.g. from ``models.length_sorted_batches``).

    Returns:
        padding tokens / all tokens fed to the model, in [0, 1).

    Taught in notebook 02 (fine-tuning): why length-sorted batches are faster.
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not len(lengths):
        raise ValueError(f"lengths must be a non-empty list of token counts, got shape {lengths.shape}")
    fed = real = 0
    for batch in batches:
        batch = np.asarray(batch, dtype=int)
        if batch.size == 0:
            raise ValueError("batches must not contain an empty batch")
        if batch.min() < 0 or batch.max() >= len(lengths):
            raise ValueError(f"batches hold index {batch.max()} but lengths has only {len(lengths)} items")
        batch_lengths = lengths[batch]
        fed += batch_lengths.max() * len(batch_lengths)
        real += batch_lengths.sum()
    return float(1 - real / fed)


def learning_rates(n_steps: int, *, learning_rate: float = 5e-5, warmup: float = 0.1) -> np.ndarray:
    """The learning rate at every step of ``fine_tune``'s linear warm-up/decay schedule.

    Uses ``transformers.get_linear_schedule_with_warmup`` on a dummy optimiser, exactly as
    :func:`course_utils.models.fine_tune` does: a rise from 0 to ``learning_rate`` over the first
    ``int(warmup * n_steps)`` steps, then a straight line down to 0 at ``n_steps``.

    Returns:
        array of shape ``(n_steps,)``: the rate used by optimiser step 0, 1, …

    Taught in notebook 02 (fine-tuning).
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    n_steps = _check_k(n_steps, "n_steps")
    warmup = _validation.check_scalar(
        warmup,
        "warmup",
        float,
        min_val=0,
        max_val=1,
        include_boundaries="left",
        hint="(a share of the steps)",
    )
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(warmup * n_steps), n_steps)
    rates = []
    for _ in range(n_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return np.asarray(rates)


# ------------------------------------------------------------------------------------------ evaluation
def predict_frame(
    model,
    tokenizer,
    df: pd.DataFrame,
    *,
    max_length: int | None = None,
    batch_size: int = 64,
    labels: Sequence[str] = LABELS,
) -> pd.DataFrame:
    """``df`` with the classifier's predictions added (one forward pass per batch, no gradients).

    Args:
        model, tokenizer: e.g. from ``models.load_classifier()``.
        df: a frame with a ``text`` column (and usually ``label``), e.g. the test split.
        max_length: truncation in tokens (default: the model's maximum; use the training ``max_length``).

    Returns:
        a copy of ``df`` with columns ``p_<label>`` for each label (e.g. ``p_Republican``), ``pred`` (int),
        ``predicted`` (label name), ``confidence`` (probability of the predicted label) and, when ``df``
        has ``label``, ``correct`` (bool).

    Taught in notebook 02 (fine-tuning); used by notebooks 03–05 to pick paragraphs.
    """
    from .models import predict_proba

    if not isinstance(df, pd.DataFrame) or "text" not in df:
        raise TypeError("df must be a pandas DataFrame with a 'text' column (e.g. a split of data.load_sotu)")
    proba = predict_proba(
        model, tokenizer, _check_texts(df["text"], "df['text']"), batch_size=batch_size, max_length=max_length
    )  # (n, n_labels)
    return _add_predictions(df, proba, _check_labels_names(labels))


def _add_predictions(df: pd.DataFrame, proba: np.ndarray, labels: tuple[str, ...]) -> pd.DataFrame:
    proba = _check_proba(proba, len(df), len(labels))
    out = df.copy()
    for j, name in enumerate(labels):
        out[f"p_{name}"] = proba[:, j]
    out["pred"] = proba.argmax(axis=1)
    out["predicted"] = [labels[j] for j in out["pred"]]
    out["confidence"] = proba.max(axis=1)
    if "label" in out:
        out["correct"] = out["pred"] == out["label"]
    return out


def evaluate(y_true, y_pred, proba=None, labels: Sequence[str] = LABELS) -> dict[str, float]:
    """Headline numbers of a classifier on one split.

    Args:
        y_true, y_pred: n integer labels each.
        proba: optional ``(n, n_labels)`` class probabilities; adds ``log_loss``, ``brier`` and
            ``calibration_error`` (expected calibration error over 10 confidence bins).
        labels: class names (default ``("Democratic", "Republican")``).

    Returns:
        dict with ``n``, ``accuracy``, ``macro_f1`` (mean of the per-class F1), ``majority_accuracy``
        (accuracy of always answering the most common true class — the floor to beat),
        ``recall_<label>`` for each label, and the probability scores when ``proba`` is given.

    Taught in notebook 02 (fine-tuning).
    """
    from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score

    labels = _check_labels_names(labels)
    y_true = _check_labels(y_true, None, "y_true", len(labels))
    if not len(y_true):
        raise ValueError("y_true is empty: evaluate needs at least one example")
    y_pred = _check_labels(y_pred, len(y_true), "y_pred", len(labels))
    ids = list(range(len(labels)))
    out = {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "majority_accuracy": float(np.bincount(y_true, minlength=len(labels)).max() / len(y_true)),
    }
    recalls = recall_score(y_true, y_pred, labels=ids, average=None, zero_division=0)
    out |= {f"recall_{name}": float(r) for name, r in zip(labels, recalls)}
    if proba is not None:
        proba = _check_proba(proba, len(y_true), len(labels))
        onehot = np.eye(len(labels))[y_true]
        out["log_loss"] = float(log_loss(y_true, proba, labels=ids))
        out["brier"] = float(((proba - onehot) ** 2).sum(axis=1).mean())
        table = calibration_table(y_true, proba)
        out["calibration_error"] = float(
            (table["n"] * (table["confidence"] - table["accuracy"]).abs()).sum() / len(y_true)
        )
    return out


def confusion_table(
    y_true, y_pred, labels: Sequence[str] = LABELS, *, normalize: bool = False
) -> pd.DataFrame:
    """Counts of (true party, predicted party) pairs.

    Returns:
        DataFrame, rows ``true <label>``, columns ``predicted <label>``; with ``normalize=True`` each row
        is divided by its total (rows sum to 1: the recall of each class sits on the diagonal).

    Taught in notebook 02 (fine-tuning).
    """
    labels = _check_labels_names(labels)
    y_true = _check_labels(y_true, None, "y_true", len(labels))
    y_pred = _check_labels(y_pred, len(y_true), "y_pred", len(labels))
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    table = pd.DataFrame(
        counts, index=[f"true {x}" for x in labels], columns=[f"predicted {x}" for x in labels]
    )
    if normalize:
        table = table.div(table.sum(axis=1).replace(0, 1), axis=0)
    return table


def per_group_accuracy(df: pd.DataFrame, group: str = "president", *, pred="pred") -> pd.DataFrame:
    """Accuracy within each group of paragraphs (president, speech, decade …).

    Args:
        df: frame with ``label``, the ``group`` column and predictions (e.g. from :func:`predict_frame`).
        group: column to group by (``"decade"`` is computed from ``year`` if absent).
        pred: name of the column holding predicted labels (default ``"pred"``), or an array of n labels.

    Returns:
        DataFrame indexed by group (chronological when ``df`` has ``year``) with ``party`` (the group's
        true party, or ``"mixed"``), ``n``, ``accuracy`` and ``predicted_republican`` (share of
        paragraphs predicted Republican — shows *which way* a group is misread).

    Taught in notebook 02 (fine-tuning).
    """
    if not isinstance(df, pd.DataFrame) or "label" not in df:
        raise TypeError("df must be a pandas DataFrame with a 'label' column (e.g. from predict_frame)")
    if group == "decade" and "decade" not in df and "year" in df:
        df = df.assign(decade=(df["year"] // 10 * 10).astype(str) + "s")
    if group not in df:
        raise ValueError(f"group={group!r} is not a column of df; choose one of {list(df.columns)}")
    if isinstance(pred, str):
        if pred not in df:
            raise ValueError(f"pred={pred!r} is not a column of df: add predictions with predict_frame first")
        y_pred = _check_labels(df[pred], len(df), "pred")
    else:
        y_pred = _check_labels(pred, len(df), "pred")
    frame = pd.DataFrame(
        {
            "group": df[group].to_numpy(),
            "label": _check_labels(df["label"], len(df), "df['label']"),
            "pred": y_pred,
            "year": df["year"].to_numpy() if "year" in df else np.arange(len(df)),
        }
    )
    frame["correct"] = frame["label"] == frame["pred"]
    out = frame.groupby("group", sort=False).agg(
        first=("year", "min"),
        label_min=("label", "min"),
        label_max=("label", "max"),
        n=("label", "size"),
        accuracy=("correct", "mean"),
        predicted_republican=("pred", "mean"),
    )
    out["party"] = np.where(
        out["label_min"] == out["label_max"], [LABELS[i] for i in out["label_min"]], "mixed"
    )
    out = out.sort_values("first", kind="stable")[["party", "n", "accuracy", "predicted_republican"]]
    out.index.name = group
    return out


def calibration_table(y_true, proba, *, bins: int = 10) -> pd.DataFrame:
    """Is the classifier as sure as it is right? Accuracy per bin of confidence (reliability data).

    Confidence is the probability of the predicted class, in [1/n_labels, 1]; the range is cut into
    ``bins`` equal-width bins (empty bins are dropped).

    Returns:
        DataFrame with one row per non-empty bin: ``bin`` (interval label), ``lower``, ``upper``, ``n``,
        ``confidence`` (mean confidence in the bin) and ``accuracy``. A calibrated model has
        ``accuracy ≈ confidence`` in every bin.

    Taught in notebook 02 (fine-tuning).
    """
    y_true = _check_labels(y_true, None, "y_true")
    proba = _check_proba(
        proba, len(y_true), np.asarray(proba).shape[-1] if np.ndim(proba) == 2 else len(LABELS)
    )
    bins = _check_k(bins, "bins")
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    low = 1 / proba.shape[1]
    edges = np.linspace(low, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append(
                (
                    f"{edges[b]:.2f}–{edges[b + 1]:.2f}",
                    edges[b],
                    edges[b + 1],
                    int(mask.sum()),
                    float(conf[mask].mean()),
                    float(correct[mask].mean()),
                )
            )
    return pd.DataFrame(rows, columns=["bin", "lower", "upper", "n", "confidence", "accuracy"])


def bootstrap_difference(
    y_true, pred_a, pred_b, *, groups=None, metric: str = "macro_f1", n_boot: int = 1000, seed: int = 42
) -> dict[str, float]:
    """How sure is "A beats B"? A paired bootstrap of ``metric(A) - metric(B)`` on the same test examples.

    Each replicate resamples the test examples with replacement (or, with ``groups``, whole groups such as
    speeches — a cluster bootstrap, honest when paragraphs of one speech are not independent) and scores
    both classifiers on the same resample.

    Args:
        y_true, pred_a, pred_b: n integer labels each.
        groups: optional n group ids (e.g. ``df["speech_id"]``) to resample whole.
        metric: ``"macro_f1"`` (default) or ``"accuracy"``.
        n_boot: number of replicates (default 1000); seed: their random generator's seed.

    Returns:
        dict with ``difference`` (on the full test set), ``low`` and ``high`` (the 2.5 % and 97.5 %
        percentiles of the replicates) and ``share_a_better`` (share of replicates where A scores higher).

    Taught in notebook 02 (fine-tuning).
    """
    from sklearn.metrics import accuracy_score, f1_score

    scorers = {
        "accuracy": accuracy_score,
        "macro_f1": lambda y, p: f1_score(y, p, average="macro", labels=[0, 1], zero_division=0),
    }
    _validation.check_choice(metric, "metric", sorted(scorers))
    score = scorers[metric]
    y_true = _check_labels(y_true, None, "y_true")
    pred_a = _check_labels(pred_a, len(y_true), "pred_a")
    pred_b = _check_labels(pred_b, len(y_true), "pred_b")
    n_boot = _check_k(n_boot, "n_boot")
    if groups is None:
        members = [np.array([i]) for i in range(len(y_true))]
    else:
        groups = np.asarray(groups)
        if len(groups) != len(y_true):
            raise ValueError(
                f"groups has {len(groups)} items but y_true has {len(y_true)}: give one group per example"
            )
        members = [np.flatnonzero(groups == g) for g in pd.unique(groups)]
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
        diffs[b] = score(y_true[idx], pred_a[idx]) - score(y_true[idx], pred_b[idx])
    return {
        "difference": float(score(y_true, pred_a) - score(y_true, pred_b)),
        "low": float(np.percentile(diffs, 2.5)),
        "high": float(np.percentile(diffs, 97.5)),
        "share_a_better": float((diffs > 0).mean()),
    }


def group_folds(labels, groups, n_splits: int, *, seed: int = 42) -> np.ndarray:
    """The fold (0 … n_splits − 1) of every row: whole groups per fold, each label's rows shared out evenly.

    Each group takes the most common label of its rows. Label by label, groups are taken in the order of the
    SHA-256 of ``f"{seed}:{group}"`` and each goes to the fold that so far holds the fewest rows of that label
    (ties: the fold with fewer rows in all, then the lower number), so every fold's label mix stays close to
    the whole frame's. Same inputs, same folds, on any machine and under any library version.

    Args:
        labels: n integer labels; groups: n group ids (``str(group)`` names a group); n_splits: folds (>= 1).

    Returns:
        int array of shape (n,).
    """
    import hashlib

    frame = pd.DataFrame({"label": np.asarray(labels), "group": [str(g) for g in groups]})
    label_of = frame.groupby("group")["label"].agg(lambda v: v.value_counts().idxmax())
    size_of = frame.groupby("group").size()
    rows = np.zeros((n_splits, 2), dtype=np.int64)  # per fold: rows of the current label, rows in all
    fold_of = {}
    for label in sorted(label_of.unique()):
        rows[:, 0] = 0
        for g in sorted(
            label_of.index[label_of == label],
            key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest(),
        ):
            fold = min(range(n_splits), key=lambda f: (rows[f, 0], rows[f, 1], f))
            fold_of[g] = fold
            rows[fold] += size_of[g]
    return frame["group"].map(fold_of).to_numpy(dtype=np.int64)


def grouped_cv(
    texts, labels, groups, *, n_splits: int = 5, seed: int = 42, **baseline_options
) -> pd.DataFrame:
    """Grouped cross-validation of the TF-IDF baseline: whole groups (speeches) are held out together.

    A validation split of a handful of speeches says little: one atypical speech moves its accuracy by many
    points. Cross-validation over speeches uses every speech once as held-out data, so the spread over folds
    shows how much a score depends on *which* speeches are held out. Folds come from :func:`group_folds`: no
    group is in two folds, each fold gets its share of every label's groups, and the assignment is the same
    under every scikit-learn version (its ``StratifiedGroupKFold`` shuffles differently in 1.6, Colab's, and 1.9).

    Args:
        texts: n paragraphs (list or pandas Series of str).
        labels: n integer labels (0 = Democratic, 1 = Republican).
        groups: n group ids (e.g. ``speech_id``); paragraphs of one group are never split between train and test.
        n_splits: number of folds (an int >= 2, at most the number of groups).
        seed: shuffles the folds and seeds the logistic regressions.
        **baseline_options: passed to :func:`tfidf_baseline` (``C``, ``ngram_range``, ``min_df``).

    Returns:
        DataFrame with one row per fold: ``fold, n_train, n_test, n_groups_test, accuracy, macro_f1,
        majority_accuracy`` and ``margin`` (= accuracy − majority_accuracy of that fold's held-out paragraphs).

    Taught in notebook 02 (what the validation split can and cannot tell).
    """
    texts = _check_texts(texts, "texts")
    labels = _check_labels(labels, len(texts), "labels")
    groups = np.asarray(list(groups), dtype=object)
    if len(groups) != len(texts):
        raise ValueError(
            f"groups has {len(groups)} entries but texts has {len(texts)}: give one group id per text"
        )
    n_splits = _validation.check_scalar(n_splits, "n_splits", int)
    n_groups = len(pd.unique(groups))
    if not 2 <= n_splits <= n_groups:
        raise ValueError(
            f"n_splits={n_splits} must be between 2 and the number of groups ({n_groups}); "
            "use fewer folds or more groups"
        )
    assignment = group_folds(labels, groups, n_splits, seed=seed)
    rows = []
    for fold in range(n_splits):
        tr, te = np.flatnonzero(assignment != fold), np.flatnonzero(assignment == fold)
        model = tfidf_baseline([texts[i] for i in tr], labels[tr], seed=seed, **baseline_options)
        scores = evaluate(labels[te], model.predict([texts[i] for i in te]))
        rows.append(
            {
                "fold": fold,
                "n_train": len(tr),
                "n_test": len(te),
                "n_groups_test": len(pd.unique(groups[te])),
                "accuracy": scores["accuracy"],
                "macro_f1": scores["macro_f1"],
                "majority_accuracy": scores["majority_accuracy"],
                "margin": scores["accuracy"] - scores["majority_accuracy"],
            }
        )
    return pd.DataFrame(rows)


def errors_worth_explaining(
    df: pd.DataFrame, proba=None, k: int = 5, labels: Sequence[str] = LABELS
) -> pd.DataFrame:
    """The paragraphs most worth explaining: the ``k`` most confident mistakes and the ``k`` least
    confident correct predictions (ties broken by ``paragraph_id``, so the choice is reproducible).

    Args:
        df: frame with ``label`` and ``paragraph_id`` (a ``load_sotu`` split); if ``proba`` is None it must
            already carry predictions from :func:`predict_frame`.
        proba: ``(n, n_labels)`` probabilities for the rows of ``df``, or None.
        k: how many of each kind (fewer if there are not enough mistakes or hits).

    Returns:
        DataFrame with at most ``2 * k`` rows and columns ``kind`` (``"confident mistake"`` or
        ``"hesitant hit"``), ``paragraph_id``, ``president``, ``year``, ``party`` (true), ``predicted``,
        ``confidence``, ``p_<label>`` columns and ``text``; mistakes first, most confident first, then hits,
        least confident first. Notebooks 03–05 pick paragraphs from it by ``paragraph_id``.

    Taught in notebook 02 (fine-tuning).
    """
    labels = _check_labels_names(labels)
    k = _check_k(k)
    if not isinstance(df, pd.DataFrame) or not {"label", "paragraph_id", "text"} <= set(df.columns):
        raise TypeError(
            "df must be a pandas DataFrame with 'label', 'paragraph_id' and 'text' columns (a load_sotu split)"
        )
    if proba is not None:
        frame = _add_predictions(df, proba, labels)
    elif {"pred", "confidence", "correct"} <= set(df.columns):
        frame = df.copy()
    else:
        raise ValueError("give proba (from models.predict_proba) or a df that went through predict_frame")
    mistakes = (
        frame[~frame["correct"]].sort_values(["confidence", "paragraph_id"], ascending=[False, True]).head(k)
    )
    hits = frame[frame["correct"]].sort_values(["confidence", "paragraph_id"], ascending=[True, True]).head(k)
    out = pd.concat(
        [mistakes.assign(kind="confident mistake"), hits.assign(kind="hesitant hit")], ignore_index=True
    )
    columns = [
        "kind",
        "paragraph_id",
        "president",
        "year",
        "party",
        "predicted",
        "confidence",
        *[f"p_{x}" for x in labels],
        "text",
    ]
    return out[[c for c in columns if c in out]]


# --------------------------------------------------------------------------------------------- figures
def plot_confusion(table: pd.DataFrame, *, ax=None, title: str | None = None):
    """Draw a :func:`confusion_table` as an annotated heat map (counts, and the row share in brackets).

    Returns:
        the matplotlib ``Axes``.

    Taught in notebook 02 (fine-tuning).
    """
    import matplotlib.pyplot as plt

    if not isinstance(table, pd.DataFrame) or table.shape[0] != table.shape[1]:
        raise TypeError("table must be a square DataFrame from confusion_table(...)")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    counts = table.to_numpy(dtype=float)
    share = counts / np.where(counts.sum(1, keepdims=True) == 0, 1, counts.sum(1, keepdims=True))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            text = f"{counts[i, j]:g}\n({share[i, j]:.0%})"
            ax.text(j, i, text, ha="center", va="center", color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(counts.shape[1]), [c.replace("predicted ", "") for c in table.columns])
    ax.set_yticks(range(counts.shape[0]), [r.replace("true ", "") for r in table.index])
    ax.set_xlabel("predicted party")
    ax.set_ylabel("true party")
    ax.set_title(title or "Confusion matrix")
    return ax


def plot_confidence(y_true, proba, *, bins: int = 10, axes=None, title: str | None = None):
    """Two panels: a histogram of confidence for right and wrong predictions, and a reliability diagram.

    Returns:
        the two matplotlib ``Axes`` (histogram, reliability).

    Taught in notebook 02 (fine-tuning).
    """
    import matplotlib.pyplot as plt

    y_true = _check_labels(y_true, None, "y_true")
    proba = _check_proba(proba, len(y_true))
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    edges = np.linspace(1 / proba.shape[1], 1, bins + 1)
    axes[0].hist(
        [conf[correct], conf[~correct]],
        bins=edges,
        stacked=True,
        color=["tab:blue", "tab:red"],
        label=[f"right ({correct.sum()})", f"wrong ({(~correct).sum()})"],
    )
    axes[0].set_xlabel("confidence (probability of the predicted party)")
    axes[0].set_ylabel("paragraphs")
    axes[0].legend()
    table = calibration_table(y_true, proba, bins=bins)
    axes[1].plot([edges[0], 1], [edges[0], 1], ls="--", color="grey", label="perfectly calibrated")
    axes[1].plot(table["confidence"], table["accuracy"], marker="o", label="classifier")
    for row in table.itertuples():
        axes[1].annotate(
            str(row.n),
            (row.confidence, row.accuracy),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=8,
        )
    axes[1].set_xlabel("mean confidence in bin")
    axes[1].set_ylabel("accuracy in bin")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].legend(loc="upper left")
    if title:
        axes[0].figure.suptitle(title)
    return axes
