"""Bring your own data: fine-tune and explain a classifier on a CSV file with ``text`` and ``label`` columns.

Taught in notebook 07 (challenges and opportunities), section "Bring your own data"::

    from course_utils import byod
    data = byod.load_csv("my_texts.csv")                 # checked: clear errors that say what to fix
    data = byod.split(data, seed=42)                     # adds a stratified train/validation/test column
    tokenizer, model, result = byod.fine_tune_csv(data)   # up to 2,000 training rows, 3 epochs
    byod.evaluate(model, tokenizer, data)                # accuracy vs the majority class on the test rows
    table = byod.explain_rows(model, tokenizer, data, n=2, method="ig")

The CSV needs one row per text: ``text`` (any language the model's tokenizer covers) and ``label`` (names
such as ``"positive"``/``"negative"`` or integers). Other columns are kept; a ``split`` column with
``train``/``validation``/``test`` is respected instead of drawing a new split.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .data import SPLITS

MIN_PER_LABEL = 3  # rows per label needed to put at least one in each split
__all__ = ["load_csv", "check_frame", "split", "fine_tune_csv", "evaluate", "explain_rows", "write_example_csv",
           "MIN_PER_LABEL"]


# --------------------------------------------------------------------------------------------- checks
def _row_numbers(index) -> list[int]:
    """CSV line numbers of frame rows (header = line 1, first row = line 2), at most 10 of them."""
    return [int(i) + 2 for i in list(index)[:10]]


def check_frame(df: pd.DataFrame, *, text_column: str = "text", label_column: str = "label",
                source: str = "the data") -> pd.DataFrame:
    """Validate a table of labelled texts and normalise it.

    Args:
        df: one row per text.
        text_column, label_column: the columns holding texts and labels.
        source: how errors name the data (e.g. the CSV path).

    Returns:
        a copy with columns ``text`` (str, stripped), ``label`` (int class index 0 … k−1, in sorted order of
        the label values), ``label_name`` (str) and the other columns; ``.attrs["labels"]`` is the tuple of
        label names (index i = class i).

    Raises:
        TypeError: ``df`` is not a DataFrame. ValueError: a missing column, empty texts, missing labels,
        fewer than two labels, or fewer than :data:`MIN_PER_LABEL` rows of some label — each message says
        which rows and how to fix them.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in (text_column, label_column) if c not in df.columns]
    if missing:
        raise ValueError(
            f"{source} has no column(s) {missing}; its columns are {list(df.columns)}. Rename your columns to "
            f"'{text_column}' and '{label_column}' (or pass text_column=..., label_column=...)."
        )
    if df.empty:
        raise ValueError(f"{source} has no rows: it needs one row per labelled text")
    out = df.reset_index(drop=True).copy()
    if label_column != "label" and "label" in out.columns:
        out = out.drop(columns="label")
    texts = out[text_column]
    empty = texts.isna() | texts.astype(str).str.strip().eq("")
    if empty.any():
        raise ValueError(f"{source}: {int(empty.sum())} row(s) have an empty '{text_column}' (CSV lines "
                         f"{_row_numbers(out.index[empty])}); drop those rows or fill in their text")
    labels = out[label_column]
    no_label = labels.isna() | labels.astype(str).str.strip().eq("")
    if no_label.any():
        raise ValueError(f"{source}: {int(no_label.sum())} row(s) have no '{label_column}' (CSV lines "
                         f"{_row_numbers(out.index[no_label])}); give every text a label or drop those rows")
    names = labels.astype(str).str.strip()
    if pd.api.types.is_numeric_dtype(labels):
        as_float = labels.astype(float)
        if not np.all(as_float == np.round(as_float)):
            raise ValueError(f"{source}: numeric labels must be whole numbers (class ids), got {sorted(labels.unique())[:10]}")
        names = as_float.astype(np.int64).astype(str)
        classes = [str(v) for v in sorted(as_float.astype(np.int64).unique())]
    else:
        classes = sorted(names.unique())
    if len(classes) < 2:
        raise ValueError(f"{source}: every row has the label {classes[0]!r}; a classifier needs at least two labels")
    counts = names.value_counts()
    rare = {k: int(v) for k, v in counts.items() if v < MIN_PER_LABEL}
    if rare:
        raise ValueError(f"{source}: label(s) {rare} have fewer than {MIN_PER_LABEL} rows, too few to train and "
                         "test on; add examples or merge those labels into others")
    out["text"] = texts.astype(str).str.strip()
    out["label_name"] = names
    out["label"] = names.map({c: i for i, c in enumerate(classes)}).astype(np.int64)
    if text_column != "text":
        out = out.drop(columns=text_column)
    if label_column not in ("label", "label_name"):
        out = out.drop(columns=label_column)
    out.attrs["labels"] = tuple(classes)
    return out


def load_csv(path: str | os.PathLike, *, text_column: str = "text", label_column: str = "label",
             encoding: str = "utf-8", **read_options) -> pd.DataFrame:
    """Read and validate a CSV of labelled texts (see :func:`check_frame` for the result and the checks).

    Args:
        path: the CSV file (comma-separated with a header row; ``sep=";"`` etc. via ``read_options``).
        text_column, label_column: column names in the file.
        encoding: the file's encoding (default UTF-8).
        **read_options: passed to ``pandas.read_csv``.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable file or failed checks. Taught in notebook 07.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or pathlib.Path), got {type(path).__name__}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no CSV file at {str(path)!r} (working directory {os.getcwd()!r}); check the path, "
                                "or write the example with byod.write_example_csv(path)")
    try:
        df = pd.read_csv(path, encoding=encoding, dtype={text_column: str}, keep_default_na=True, **read_options)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not {encoding} text ({exc.reason}); pass encoding='latin-1' (or the file's "
                         "encoding), or re-save the file as UTF-8") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path} could not be read as CSV: {exc}. Quote texts that contain commas or line "
                         "breaks, or pass sep=';' for semicolon-separated files") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: it needs a header row ({text_column},{label_column}) and one row per text") from None
    return check_frame(df, text_column=text_column, label_column=label_column, source=str(path))


# ---------------------------------------------------------------------------------------------- split
def split(df: pd.DataFrame, *, validation: float = 0.2, test: float = 0.2, seed: int = 42) -> pd.DataFrame:
    """Add a ``split`` column (train / validation / test), stratified by label, unless ``df`` has one.

    Args:
        df: the result of :func:`load_csv` / :func:`check_frame`.
        validation, test: shares of each label's rows (each label keeps ≥ 1 row in every split).
        seed: the shuffle's seed.

    Returns:
        a copy with ``split``. An existing ``split`` column is checked (values in ``train``, ``validation``,
        ``test``; train and test present) and kept: your own split (e.g. by author or by time, so that the
        test set is honest) wins.
    """
    if not isinstance(df, pd.DataFrame) or "label" not in df.columns:
        raise TypeError("df must be the DataFrame returned by byod.load_csv() or byod.check_frame()")
    out = df.copy()
    if "split" in out.columns:
        bad = sorted(set(out["split"].astype(str)) - set(SPLITS))
        if bad:
            raise ValueError(f"the 'split' column has values {bad}; allowed are {list(SPLITS)} (or drop the column "
                             "to draw a random split)")
        if not {"train", "test"} <= set(out["split"]):
            raise ValueError("the 'split' column needs at least one 'train' and one 'test' row")
        return out
    for name, share in (("validation", validation), ("test", test)):
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
            raise ValueError(f"{name} must be a share between 0 and 1, got {share!r}")
    if validation + test >= 1:
        raise ValueError(f"validation + test = {validation + test:.2f} leaves no training rows; keep it below 1")
    rng = np.random.default_rng(seed)
    out["split"] = "train"
    for _, rows in out.groupby("label", sort=True):
        idx = rng.permutation(rows.index.to_numpy())
        n_test = max(1, round(test * len(idx)))
        n_val = max(1, round(validation * len(idx)))
        if n_test + n_val >= len(idx):
            raise ValueError(f"label {rows['label_name'].iloc[0]!r} has only {len(idx)} rows: too few for train, "
                             f"validation and test; add examples (at least {MIN_PER_LABEL} per label)")
        out.loc[idx[:n_test], "split"] = "test"
        out.loc[idx[n_test:n_test + n_val], "split"] = "validation"
    return out


def _labels_of(df: pd.DataFrame) -> tuple[str, ...]:
    labels = df.attrs.get("labels")
    if not labels:
        names = df.drop_duplicates("label").sort_values("label")
        labels = tuple(names["label_name"].astype(str)) if "label_name" in df else tuple(str(i) for i in names["label"])
    return tuple(labels)


def _rows(df: pd.DataFrame, which: str) -> pd.DataFrame:
    if "split" not in df.columns:
        raise ValueError("df has no 'split' column; call byod.split(df) first")
    rows = df[df["split"] == which]
    if rows.empty:
        raise ValueError(f"df has no '{which}' rows; its splits are {sorted(df['split'].unique())}")
    return rows


# ------------------------------------------------------------------------------------- train, judge, explain
def fine_tune_csv(df: pd.DataFrame, *, model_name: str | None = None, max_train: int | None = 2000, epochs: int = 3,
                  max_length: int = 64, batch_size: int = 16, learning_rate: float = 5e-5, seed: int = 42,
                  progress: bool = True):
    """Fine-tune a fresh classifier on the ``train`` rows (defaults: all of them up to 2,000, 3 epochs).

    On notebook 07's 400-row example file (229 training rows) this gives test accuracy 0.66 against a majority
    class of 0.53 (notebook 07 asserts the margin); one epoch on ~100 rows is too short for the classifier to
    learn, and its explanations then show nothing.

    Args:
        df: the result of :func:`split`.
        model_name: base model (None: ``$COURSE_MODEL`` or the packaged MiniLM; any BERT id/folder).
        max_train: at most this many training rows (a seeded sample; default 2,000 keeps a CPU run to minutes);
            None = all.
        epochs, max_length, batch_size, learning_rate, seed: as in :func:`course_utils.models.fine_tune`.

    Returns:
        ``(tokenizer, model, result)``: the model (eval mode) has the CSV's label names in
        ``model.config.id2label``; ``result`` is a :class:`~course_utils.models.TrainingResult` (with validation
        accuracy when there are validation rows). Nothing is cached. Taught in notebook 07.
    """
    from .models import fine_tune, new_classifier

    train = _rows(df, "train")
    if max_train is not None:
        if isinstance(max_train, bool) or not isinstance(max_train, (int, np.integer)) or max_train < 2:
            raise ValueError(f"max_train must be an integer of at least 2 or None, got {max_train!r}")
        if len(train) > max_train:
            train = train.sample(int(max_train), random_state=seed).sort_index()
    val = df[df["split"] == "validation"]
    tokenizer, model = new_classifier(model_name, labels=_labels_of(df), seed=seed)
    result = fine_tune(model, tokenizer, train["text"].tolist(), train["label"].to_numpy(), epochs=epochs,
                       batch_size=batch_size, learning_rate=learning_rate, max_length=max_length, seed=seed,
                       val_texts=val["text"].tolist() if len(val) else None,
                       val_labels=val["label"].to_numpy() if len(val) else None, progress=progress)
    return tokenizer, model.eval(), result


def evaluate(model, tokenizer, df: pd.DataFrame, which: str = "test", *, max_length: int = 64) -> dict[str, float]:
    """Accuracy on one split, next to the majority-class baseline (predict the most common training label).

    Returns:
        ``{"n": rows, "accuracy": ..., "majority": ...}``. Taught in notebook 07.
    """
    from .models import predict_proba

    rows = _rows(df, which)
    pred = predict_proba(model, tokenizer, rows["text"].tolist(), max_length=max_length).argmax(1)
    majority_label = _rows(df, "train")["label"].mode().iloc[0]
    return {"n": int(len(rows)), "accuracy": float((pred == rows["label"].to_numpy()).mean()),
            "majority": float((rows["label"] == majority_label).mean())}


def explain_rows(model, tokenizer, df: pd.DataFrame, n: int = 2, method: str = "ig", *, which: str = "test",
                 target=None, seed: int = 42, max_length: int = 64, **options) -> pd.DataFrame:
    """Explain ``n`` rows of one split (a seeded sample) with any method of :func:`course_utils.attribution.explain`.

    Returns:
        the tidy attribution table; ``doc_id`` is the row's index in ``df``. Taught in notebook 07.
    """
    from .attribution import explain

    rows = _rows(df, which)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rows = rows.sample(min(int(n), len(rows)), random_state=seed).sort_index()
    return explain(model, tokenizer, rows["text"], method, target, max_length=max_length, **options)


def write_example_csv(path: str | os.PathLike, n: int = 400, *, seed: int = 42, since: int = 2009,
                      max_words: int = 40) -> Path:
    """Write a small CSV (``text``, ``label`` = party name) from the course corpus: a stand-in for your own file.

    Args:
        path: where to write (folders are created).
        n: rows, balanced between the two parties; seed: the sample's seed.
        since, max_words: which paragraphs (recent, short ones keep fine-tuning fast).

    Returns:
        the path. Taught in notebook 07 (the "bring your own data" section runs offline on this file).
    """
    from .data import load_sotu

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 * MIN_PER_LABEL:
        raise ValueError(f"n must be an integer of at least {2 * MIN_PER_LABEL}, got {n!r}")
    corpus = load_sotu(since, min_words=10, max_words=max_words)
    per_party = [rows.sample(min(n // 2, len(rows)), random_state=seed) for _, rows in corpus.groupby("label", sort=True)]
    sample = pd.concat(per_party).sort_index()
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    sample.assign(label=sample["party"])[["text", "label"]].to_csv(path, index=False)
    return path
