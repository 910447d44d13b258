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

import csv
import difflib
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._validation import check_positive_int, check_scalar
from .data import SPLITS

MIN_PER_LABEL = 3  # rows per label needed to put at least one in each split
SIMILAR = 0.8  # difflib ratio above which a much rarer label looks like a misspelling of another
RARE_SHARE = 0.5  # … when it has at most this share of the other label's rows
BIG = 1000  # rows above which evaluate() shows a progress bar by default
__all__ = [
    "load_csv",
    "check_frame",
    "split",
    "labels",
    "fine_tune_csv",
    "evaluate",
    "explain_rows",
    "write_example_csv",
    "MIN_PER_LABEL",
]


# --------------------------------------------------------------------------------------------- checks
def _where(index, lines: Sequence[int] | None) -> str:
    """Where rows are, for a message: CSV line numbers when known (header = line 1), else row positions."""
    rows = list(index)[:10]
    more = " …" if len(index) > 10 else ""
    if lines is not None:
        return f"CSV lines {[int(lines[i]) for i in rows]}{more}"
    return f"rows {[int(i) for i in rows]}{more}"


def _record_lines(path: Path, encoding: str, sep: str) -> list[int] | None:
    """The physical line on which each CSV record starts (header excluded), skipping blank lines as pandas
    does; multi-line quoted texts count all their lines. None if the file cannot be walked this way."""
    starts = []
    try:
        with open(path, newline="", encoding=encoding) as handle:
            reader = csv.reader(handle, delimiter=sep)
            previous = 0
            for record in reader:
                if record:  # csv yields [] for an empty line, which pandas skips
                    starts.append(previous + 1)
                previous = reader.line_num
    except (csv.Error, UnicodeDecodeError, OSError):
        return None
    return starts[1:]


def _norm_text(texts: pd.Series) -> pd.Series:
    """Texts compared for duplicates: stripped, inner whitespace collapsed, case folded."""
    return texts.astype(str).str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()


def _similar_labels(counts: pd.Series) -> list[str]:
    """Messages for labels that look like variants of another: other case/spacing, or a rare misspelling."""
    found = []
    names = sorted(str(k) for k in counts.index)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            rare, common = (a, b) if counts[a] <= counts[b] else (b, a)
            if a.casefold().split() == b.casefold().split():
                found.append(
                    f"{a!r} ({counts[a]} rows) and {b!r} ({counts[b]} rows) differ only in case or spacing"
                )
            elif (
                difflib.SequenceMatcher(None, rare.casefold(), common.casefold()).ratio() >= SIMILAR
                and counts[rare] <= RARE_SHARE * counts[common]
            ):
                found.append(
                    f"{rare!r} ({counts[rare]} rows) looks like a misspelling of {common!r} ({counts[common]} rows)"
                )
    return found


def check_frame(
    df: pd.DataFrame,
    *,
    text_column: str = "text",
    label_column: str = "label",
    source: str = "the data",
    label_map: Mapping | None = None,
    allow_similar_labels: bool = False,
    lines: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Validate a table of labelled texts and normalise it.

    Args:
        df: one row per text.
        text_column, label_column: the columns holding texts and labels.
        source: how errors name the data (e.g. the CSV path).
        label_map: rename labels before the checks, e.g. ``{"Republcan": "Republican", "DEM": "Democratic"}``
            (how to merge the near-duplicate labels the check finds).
        allow_similar_labels: keep labels that look like variants of one another (other case or spacing, or a
            rare label one or two letters from a common one) as separate classes; default False refuses them.
        lines: the CSV line of each row (as :func:`load_csv` finds them), so messages can name lines.

    Returns:
        a copy with columns ``text`` (str, stripped), ``label`` (int class index 0 … k−1, in sorted order of
        the label values), ``label_name`` (str) and the other columns; :func:`labels` gives the tuple of
        label names (index i = class i).

    Raises:
        TypeError: ``df`` is not a DataFrame. ValueError: a missing column, empty texts, missing labels,
        fewer than two labels, labels that look like variants of one another, or fewer than
        :data:`MIN_PER_LABEL` rows of some label — each message says which rows and how to fix them.

    Warns:
        UserWarning: the same text occurs in several rows (counts given; :func:`split` keeps the copies of a
        text in one split so they cannot leak from training into the test rows), or with different labels.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in (text_column, label_column) if c not in df.columns]
    if missing:
        header = " ".join(str(c) for c in df.columns)
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if len(df.columns) == 1 and sep in header:
                raise ValueError(
                    f"{source} has a single column {header!r}: its fields are separated by {name}, not "
                    f"commas. Pass sep={sep!r} (e.g. byod.load_csv(path, sep={sep!r}))"
                )
        raise ValueError(
            f"{source} has no column(s) {missing}; its columns are {list(df.columns)}. Rename your columns to "
            f"'{text_column}' and '{label_column}' (or pass text_column=..., label_column=...)."
        )
    if df.empty:
        raise ValueError(f"{source} has no rows: it needs one row per labelled text")
    check_scalar(allow_similar_labels, "allow_similar_labels", bool)
    if label_map is not None and not isinstance(label_map, Mapping):
        raise TypeError(f"label_map must be a dict from old to new label, got {type(label_map).__name__}")
    if lines is not None and len(lines) != len(df):
        lines = None
    out = df.reset_index(drop=True).copy()
    if label_map:
        out[label_column] = out[label_column].map(lambda v: label_map.get(v, v))
    if label_column != "label" and "label" in out.columns:
        out = out.drop(columns="label")
    texts = out[text_column]
    empty = texts.isna() | texts.astype(str).str.strip().eq("")
    if empty.any():
        raise ValueError(
            f"{source}: {int(empty.sum())} row(s) have an empty '{text_column}' ("
            f"{_where(out.index[empty], lines)}); drop those rows or fill in their text"
        )
    labels = out[label_column]
    no_label = labels.isna() | labels.astype(str).str.strip().eq("")
    if no_label.any():
        raise ValueError(
            f"{source}: {int(no_label.sum())} row(s) have no '{label_column}' ("
            f"{_where(out.index[no_label], lines)}); give every text a label or drop those rows"
        )
    names = labels.astype(str).str.strip()
    if pd.api.types.is_numeric_dtype(labels):
        as_float = labels.astype(float)
        if not np.all(as_float == np.round(as_float)):
            raise ValueError(
                f"{source}: numeric labels must be whole numbers (class ids), got {sorted(labels.unique())[:10]}"
            )
        names = as_float.astype(np.int64).astype(str)
        classes = [str(v) for v in sorted(as_float.astype(np.int64).unique())]
    else:
        classes = sorted(names.unique())
    if len(classes) < 2:
        raise ValueError(
            f"{source}: every row has the label {classes[0]!r}; a classifier needs at least two labels"
        )
    counts = names.value_counts()
    if not allow_similar_labels and not pd.api.types.is_numeric_dtype(labels):
        similar = _similar_labels(counts)
        if similar:
            raise ValueError(
                f"{source}: some labels look like variants of one another: {'; '.join(similar)}. "
                "Correct them in the file, or merge them with label_map={'wrong': 'right', ...}; if "
                "they really are different classes, pass allow_similar_labels=True"
            )
    rare = {k: int(v) for k, v in counts.items() if v < MIN_PER_LABEL}
    if rare:
        raise ValueError(
            f"{source}: label(s) {rare} have fewer than {MIN_PER_LABEL} rows, too few to train and "
            "test on; add examples or merge those labels into others"
        )
    out["text"] = texts.astype(str).str.strip()
    _warn_duplicates(out["text"], names, source, lines)
    out["label_name"] = names
    out["label"] = names.map({c: i for i, c in enumerate(classes)}).astype(np.int64)
    if text_column != "text":
        out = out.drop(columns=text_column)
    if label_column not in ("label", "label_name"):
        out = out.drop(columns=label_column)
    return out


def _warn_duplicates(texts: pd.Series, names: pd.Series, source: str, lines: Sequence[int] | None) -> None:
    key = _norm_text(texts)
    repeated = key.duplicated(keep=False)
    if not repeated.any():
        return
    n_texts, n_extra = int(key[repeated].nunique()), int(key.duplicated().sum())
    conflicting = names.groupby(key).nunique()
    conflicting = conflicting[conflicting > 1]
    clash = (
        f" {len(conflicting)} of them carry different labels, so a model cannot get them all right: check "
        f"them"
        if len(conflicting)
        else ""
    )
    first = key[repeated].iloc[0]
    warnings.warn(
        f"{source}: {n_texts} text(s) occur more than once ({n_extra} extra row(s); e.g. "
        f"{_where(key.index[key == first], lines)}).{clash} byod.split() keeps all copies of a text in one "
        "split, so they do not leak from training into validation or test; drop the copies "
        "(df.drop_duplicates('text')) if they are mistakes",
        UserWarning,
        stacklevel=3,
    )


def load_csv(
    path: str | os.PathLike,
    *,
    text_column: str = "text",
    label_column: str = "label",
    encoding: str = "utf-8",
    label_map: Mapping | None = None,
    allow_similar_labels: bool = False,
    **read_options,
) -> pd.DataFrame:
    """Read and validate a CSV of labelled texts (see :func:`check_frame` for the result and the checks).

    Args:
        path: the CSV file (comma-separated with a header row; ``sep=";"`` etc. via ``read_options``).
        text_column, label_column: column names in the file.
        encoding: the file's encoding (default UTF-8; ``"cp1252"`` for files Excel saved on Windows).
        label_map, allow_similar_labels: see :func:`check_frame` (merge or keep near-duplicate labels).
        **read_options: passed to ``pandas.read_csv``.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable file or failed checks; messages name the
        file's real line numbers (blank lines and multi-line quoted texts counted). Taught in notebook 07.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or pathlib.Path), got {type(path).__name__}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"no CSV file at {str(path)!r} (working directory {os.getcwd()!r}); check the path, "
            "or write the example with byod.write_example_csv(path)"
        )
    try:
        df = pd.read_csv(
            path, encoding=encoding, dtype={text_column: str}, keep_default_na=True, **read_options
        )
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not {encoding} text ({exc.reason}); {_encoding_advice(path)}") from None
    except pd.errors.ParserError as exc:
        raise ValueError(
            f"{path} could not be read as CSV: {exc}. Quote texts that contain commas or line "
            "breaks, or pass sep=';' for semicolon-separated files"
        ) from None
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path} is empty: it needs a header row ({text_column},{label_column}) and one row per text"
        ) from None
    sep = read_options.get("sep", read_options.get("delimiter", ","))
    simple = isinstance(sep, str) and len(sep) == 1 and not set(read_options) - {"sep", "delimiter"}
    lines = _record_lines(path, encoding, sep) if simple else None
    return check_frame(
        df,
        text_column=text_column,
        label_column=label_column,
        source=str(path),
        label_map=label_map,
        allow_similar_labels=allow_similar_labels,
        lines=lines,
    )


def _encoding_advice(path: Path) -> str:
    """Which encoding to try: Windows-1252 when the bytes decode as such (curly quotes, dashes, é …)."""
    data = path.read_bytes()
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return (
            "pass the file's encoding (e.g. encoding='utf-16' or 'latin-1'), or re-save the file as UTF-8 "
            "(in Excel: Save As → CSV UTF-8)"
        )
    return (
        "it looks like Windows-1252 (what Excel on Windows writes): pass encoding='cp1252', or re-save the "
        "file as UTF-8 (in Excel: Save As → CSV UTF-8). Not latin-1: it turns curly quotes and dashes into "
        "invisible control characters"
    )


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
            raise ValueError(
                f"the 'split' column has values {bad}; allowed are {list(SPLITS)} (or drop the column "
                "to draw a random split)"
            )
        if not {"train", "test"} <= set(out["split"]):
            raise ValueError("the 'split' column needs at least one 'train' and one 'test' row")
        if "text" in out.columns:
            key = _norm_text(out["text"])
            train_texts = set(key[out["split"] == "train"])
            leaked = key[(out["split"] != "train") & key.isin(train_texts)]
            if len(leaked):
                warnings.warn(
                    f"{leaked.nunique()} distinct text(s) of the validation/test rows ({len(leaked)} rows) "
                    "also occur in the training rows: those scores will be too good. Drop the copies "
                    "(df.drop_duplicates('text')) or assign each text to one split",
                    UserWarning,
                    stacklevel=2,
                )
        return out
    for name, share in (("validation", validation), ("test", test)):
        check_scalar(
            share,
            name,
            float,
            min_val=0,
            max_val=1,
            include_boundaries="neither",
            hint="(a share between 0 and 1 of the rows)",
        )
    if validation + test >= 1:
        raise ValueError(
            f"validation + test = {validation + test:.2f} leaves no training rows; keep it below 1"
        )
    rng = np.random.default_rng(seed)
    out["split"] = "train"
    # copies of one text form one group (its first row stands for it), so no text is in two splits
    key = (
        _norm_text(out["text"]) if "text" in out.columns else pd.Series(np.arange(len(out)), index=out.index)
    )
    first = pd.Series(out.index, index=out.index).groupby(key.to_numpy()).transform("first")
    for _, rows in out[first.to_numpy() == out.index.to_numpy()].groupby("label", sort=True):
        idx = rng.permutation(rows.index.to_numpy())
        n_test = max(1, round(test * len(idx)))
        n_val = max(1, round(validation * len(idx)))
        if n_test + n_val >= len(idx):
            what = (
                "rows" if len(idx) == int((out["label"] == rows["label"].iloc[0]).sum()) else "distinct texts"
            )
            raise ValueError(
                f"label {rows['label_name'].iloc[0]!r} has only {len(idx)} {what}: too few for train, "
                f"validation and test; add examples (at least {MIN_PER_LABEL} per label)"
            )
        out.loc[idx[:n_test], "split"] = "test"
        out.loc[idx[n_test : n_test + n_val], "split"] = "validation"
    out["split"] = out.loc[first.to_numpy(), "split"].to_numpy()  # every copy follows its first row
    return out


def labels(df: pd.DataFrame) -> tuple[str, ...]:
    """The label names of a :func:`load_csv` / :func:`check_frame` frame (index i = class i), read from its
    ``label`` and ``label_name`` columns; a class id no row holds gets its number as its name."""
    names = df.drop_duplicates("label").set_index("label")
    n = int(df["label"].max()) + 1
    if "label_name" not in df:
        return tuple(str(i) for i in range(n))
    return tuple(str(names["label_name"].get(i, i)) for i in range(n))


def _rows(df: pd.DataFrame, which: str) -> pd.DataFrame:
    if "split" not in df.columns:
        raise ValueError("df has no 'split' column; call byod.split(df) first")
    rows = df[df["split"] == which]
    if rows.empty:
        raise ValueError(f"df has no '{which}' rows; its splits are {sorted(df['split'].unique())}")
    return rows


# ------------------------------------------------------------------------------------- train, judge, explain
def fine_tune_csv(
    df: pd.DataFrame,
    *,
    model_name: str | None = None,
    max_train: int | None = 2000,
    epochs: int = 3,
    max_length: int = 64,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    seed: int = 42,
    progress: bool = True,
):
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
        check_scalar(max_train, "max_train", int, min_val=2, allow_none=True)
        if len(train) > max_train:
            train = train.sample(int(max_train), random_state=seed).sort_index()
    val = df[df["split"] == "validation"]
    tokenizer, model = new_classifier(model_name, labels=labels(df), seed=seed)
    result = fine_tune(
        model,
        tokenizer,
        train["text"].tolist(),
        train["label"].to_numpy(),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_length=max_length,
        seed=seed,
        val_texts=val["text"].tolist() if len(val) else None,
        val_labels=val["label"].to_numpy() if len(val) else None,
        progress=progress,
    )
    return tokenizer, model.eval(), result


def evaluate(
    model,
    tokenizer,
    df: pd.DataFrame,
    which: str = "test",
    *,
    max_length: int = 64,
    progress: bool | None = None,
) -> dict[str, float]:
    """Accuracy on one split, next to the majority-class baseline (predict the most common training label).

    Args:
        progress: a tqdm bar over the prediction batches; None (default) shows it above 1,000 rows.

    Returns:
        ``{"n": rows, "accuracy": ..., "majority": ...}``. Taught in notebook 07.
    """
    from .models import predict_proba

    rows = _rows(df, which)
    show = len(rows) > BIG if progress is None else bool(progress)
    pred = predict_proba(
        model, tokenizer, rows["text"].tolist(), max_length=max_length, progress=show
    ).argmax(1)
    majority_label = _rows(df, "train")["label"].mode().iloc[0]
    return {
        "n": int(len(rows)),
        "accuracy": float((pred == rows["label"].to_numpy()).mean()),
        "majority": float((rows["label"] == majority_label).mean()),
    }


def explain_rows(
    model,
    tokenizer,
    df: pd.DataFrame,
    n: int = 2,
    method: str = "ig",
    *,
    which: str = "test",
    target=None,
    seed: int = 42,
    max_length: int = 64,
    **options,
) -> pd.DataFrame:
    """Explain ``n`` rows of one split (a seeded sample) with any method of :func:`course_utils.attribution.explain`.

    Returns:
        the tidy attribution table; ``doc_id`` is the row's index in ``df``. Taught in notebook 07.
    """
    from .attribution import explain

    rows = _rows(df, which)
    check_positive_int(n, "n")
    rows = rows.sample(min(int(n), len(rows)), random_state=seed).sort_index()
    return explain(model, tokenizer, rows["text"], method, target, max_length=max_length, **options)


def write_example_csv(
    path: str | os.PathLike, n: int = 400, *, seed: int = 42, since: int = 2009, max_words: int = 40
) -> Path:
    """Write a small CSV (``text``, ``label`` = party name) from the course corpus: a stand-in for your own file.

    Args:
        path: where to write (folders are created).
        n: rows, balanced between the two parties; seed: the sample's seed.
        since, max_words: which paragraphs (recent, short ones keep fine-tuning fast).

    Returns:
        the path. Taught in notebook 07 (the "bring your own data" section runs offline on this file).
    """
    from .data import load_sotu

    check_positive_int(n, "n", 2 * MIN_PER_LABEL, hint=f"({MIN_PER_LABEL} rows per label at least)")
    corpus = load_sotu(since, min_words=10, max_words=max_words)
    per_party = [
        rows.sample(min(n // 2, len(rows)), random_state=seed)
        for _, rows in corpus.groupby("label", sort=True)
    ]
    sample = pd.concat(per_party).sort_index()
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    sample.assign(label=sample["party"])[["text", "label"]].to_csv(path, index=False)
    return path
