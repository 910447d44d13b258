"""Auditing a classifier before using it as a measurement: shortcut words, counterfactual edits, attention
as a (poor) explanation, and a model card.

Taught in notebook 07 (challenges and opportunities)::

    from course_utils import audit
    markers = audit.group_markers(train, by="president")          # words one president uses, others rarely
    scores = audit.marker_word_scores(table, markers)              # where those words rank in the explanations
    audit.counterfactual(model, tokenizer, texts, {"good": "wonderful"}, target="Republican")
    attention = audit.attention_explanation(model, tokenizer, table)   # [CLS] attention as if it explained
    print(audit.model_card("Party classifier", {"Intended use": "...", "Known shortcuts": [...]}))

Words are compared in lower case as runs of letters and digits (``[^\\W_]+``), the way BERT's basic
tokenizer splits words before WordPiece: "9/11" is the three words "9", "/", "11" to BERT and "9", "11" here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _inference
from ._validation import check_positive_int, check_scalar

WORD_RE = re.compile(r"[^\W_]+")

__all__ = [
    "words_of",
    "group_markers",
    "find_words",
    "swap_words",
    "counterfactual",
    "marker_word_scores",
    "attention_explanation",
    "lexicon_explanation",
    "model_card",
]


# ---------------------------------------------------------------------------------------------- words
def words_of(text: str) -> list[str]:
    """The words of ``text`` in lower case (runs of letters/digits), e.g. ``"COVID-19, folks!"`` → covid, 19, folks."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return WORD_RE.findall(text.lower())


def _check_frame(df, columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame (e.g. from load_sotu()), got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks the column(s) {missing}; it has {list(df.columns)}")
    if df.empty:
        raise ValueError("df has no rows")
    return df


def group_markers(
    df: pd.DataFrame,
    by: str = "president",
    *,
    min_paragraphs: int = 5,
    min_share: float = 0.8,
    min_length: int = 3,
    text_column: str = "text",
    label_column: str = "label",
) -> pd.DataFrame:
    """Words concentrated in one group (one president, one decade …): candidate shortcuts.

    A word is a marker of group g when it occurs in at least ``min_paragraphs`` paragraphs and at least
    ``min_share`` of those belong to g. Such a word tells a classifier *who* speaks (or *when*), and through
    that the label — without saying anything about the label itself. Use the training split: these are
    the words a model could have learnt.

    Args:
        df: paragraphs with ``text_column``, ``by`` and ``label_column``.
        by: the grouping column (``"president"``, ``"year"`` …).
        min_paragraphs, min_share: the thresholds above; min_length: shortest word kept (drops "a", "we").

    Returns:
        DataFrame ``word, n_paragraphs, group, share, label`` (label = the group's most common label),
        most frequent first. Taught in notebook 07.
    """
    df = _check_frame(df, [text_column, by, label_column])
    check_scalar(min_share, "min_share", float, min_val=0, max_val=1, include_boundaries="right")
    check_positive_int(min_paragraphs, "min_paragraphs")
    words = pd.DataFrame(
        {"group": df[by].to_numpy(), "word": [sorted(set(words_of(t))) for t in df[text_column]]}
    )
    words = words.explode("word").dropna(subset=["word"])
    words = words[words["word"].str.len() >= min_length]
    counts = words.groupby(["word", "group"], sort=True).size().rename("n").reset_index()
    total = counts.groupby("word")["n"].transform("sum")
    counts = counts.assign(n_paragraphs=total, share=counts["n"] / total)
    top = counts.sort_values(["word", "n"], ascending=[True, False], kind="stable").drop_duplicates("word")
    top = top[(top["n_paragraphs"] >= min_paragraphs) & (top["share"] >= min_share)]
    group_label = df.groupby(by)[label_column].agg(lambda s: s.mode().iloc[0])
    out = top.assign(label=top["group"].map(group_label))[["word", "n_paragraphs", "group", "share", "label"]]
    out = out.sort_values(["n_paragraphs", "word"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )
    return out.astype({"n_paragraphs": np.int64, "share": np.float64})


def _patterns(words) -> list[tuple[re.Pattern, str]]:
    if isinstance(words, str):
        words = [words]
    if isinstance(words, Mapping):
        items = list(words.items())
    else:
        items = [(w, "") for w in words]
    if not items:
        raise ValueError("no words given")
    out = []
    for src, dst in items:
        if not isinstance(src, str) or not src.strip() or not isinstance(dst, str):
            raise TypeError(
                f"words must be non-empty strings (and replacements strings), got {src!r} -> {dst!r}"
            )
        out.append((re.compile(rf"(?<![^\W_]){re.escape(src.strip())}(?![^\W_])", re.IGNORECASE), dst))
    return out


def _texts(texts) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts[{bad[0]}] is {type(texts[bad[0]]).__name__}; every text must be a string")
    return texts


def find_words(texts, words) -> list[list[str]]:
    """Which of ``words`` (whole words or phrases, any case) occur in each text, in lower case and text order."""
    patterns = _patterns(words)
    found = []
    for text in _texts(texts):
        hits = sorted((m.start(), m.group(0).lower()) for p, _ in patterns for m in p.finditer(text))
        found.append([h for _, h in hits])
    return found


def _match_case(replacement: str, matched: str) -> str:
    if replacement and matched[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def swap_words(texts, mapping: Mapping[str, str]) -> list[str]:
    """Replace whole words or phrases (any case) in each text; ``""`` deletes. A capital first letter is kept.

    Example: ``swap_words(["Americans deserve better."], {"americans": "folks"})`` → ``["Folks deserve better."]``.

    Returns:
        the edited texts, with doubled spaces and spaces before punctuation removed. Taught in notebook 07.
    """
    if not isinstance(mapping, Mapping):
        raise TypeError(f"mapping must be a dict {{word: replacement}}, got {type(mapping).__name__}")
    patterns = _patterns(mapping)
    out = []
    for text in _texts(texts):
        for pattern, dst in patterns:
            text = pattern.sub(lambda m, dst=dst: _match_case(dst, m.group(0)), text)
        text = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
        out.append(text)
    return out


# ------------------------------------------------------------------------------------- counterfactuals
def counterfactual(
    model,
    tokenizer,
    texts,
    mapping: Mapping[str, str],
    target=1,
    *,
    max_length: int | None = None,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Edit the texts (:func:`swap_words`) and measure how the target's probability moves.

    Args:
        model, tokenizer: the classifier.
        texts: strings or a pandas Series (its index becomes ``doc_id``).
        mapping: ``{word: replacement}``; ``""`` deletes the word.
        target: the class whose probability is reported: label name or index (default 1).
        max_length: tokens per text (default the model's limit).

    Returns:
        DataFrame with one row per text that the edit changed: ``doc_id, text, edited, p_before, p_after,
        change`` (= p_after − p_before). Texts without any of the words are left out.

    Raises:
        ValueError: none of the texts contains any of the words. Taught in notebook 07.
    """
    from .attribution import check_target
    from .models import predict_proba

    index = texts.index if isinstance(texts, pd.Series) else None
    texts = _texts(texts)
    doc_ids = np.asarray(index) if index is not None else np.arange(len(texts))
    (target_id,) = check_target([target], model, 1)
    edited = swap_words(texts, mapping)
    changed = np.array([a != b for a, b in zip(texts, edited)], dtype=bool)
    if not changed.any():
        raise ValueError(f"none of the {len(texts)} texts contains any of {list(mapping)}: nothing to edit")
    before = [t for t, c in zip(texts, changed) if c]
    after = [t for t, c in zip(edited, changed) if c]
    limit = max_length or _inference.model_max_length(model)
    p0 = predict_proba(model, tokenizer, before, max_length=limit, batch_size=batch_size)[
        :, target_id
    ]  # (n,)
    p1 = predict_proba(model, tokenizer, after, max_length=limit, batch_size=batch_size)[:, target_id]  # (n,)
    return pd.DataFrame(
        {
            "doc_id": doc_ids[changed],
            "text": before,
            "edited": after,
            "p_before": p0.astype(np.float64),
            "p_after": p1.astype(np.float64),
            "change": (p1 - p0).astype(np.float64),
        }
    )


# ------------------------------------------------------------------------------------ attributions
def marker_word_scores(table: pd.DataFrame, markers: pd.DataFrame) -> pd.DataFrame:
    """Word scores of an attribution table, with each word's rank in its document and its marker status.

    Args:
        table: tidy table of :func:`course_utils.attribution.explain` (one method).
        markers: the result of :func:`group_markers` (columns ``word, group, label``).

    Returns:
        the rows of :func:`course_utils.attribution.word_scores` plus ``key`` (the word in lower case),
        ``percentile`` (rank of |score| within the document, in (0, 1]; 1 = the most important word),
        ``marker`` (bool), ``group`` and ``label`` (the marker's; missing for other words) and ``aligned``
        (a marker's score points towards its group's label: positive when that label is the target,
        negative otherwise; False for other words). Taught in notebook 07.
    """
    from .attribution import word_scores

    if not isinstance(markers, pd.DataFrame) or not {"word", "group", "label"} <= set(markers.columns):
        raise TypeError("markers must be the DataFrame returned by audit.group_markers()")
    words = word_scores(table)
    words["key"] = words["word"].str.lower()
    words["percentile"] = words.groupby("doc_id")["score"].transform(lambda s: s.abs().rank(pct=True))
    info = markers.drop_duplicates("word").set_index("word")
    words["marker"] = words["key"].isin(info.index)
    words["group"] = words["key"].map(info["group"])
    words["label"] = words["key"].map(info["label"])
    towards = np.where(words["label"] == words["target"], 1.0, -1.0)
    words["aligned"] = words["marker"] & (np.sign(words["score"]) == towards)
    return words


def attention_explanation(
    model, tokenizer, table: pd.DataFrame, *, layer: int = -1, batch_size: int = 32
) -> pd.DataFrame:
    """Attention from ``[CLS]`` to each token (mean over heads of one layer), shaped like an explanation.

    "Attention is not explanation" (Jain & Wallace, 2019): attention weights say where a layer *reads*,
    not what *changes* the prediction. This function turns them into an attribution table so that the
    faithfulness tests of :mod:`course_utils.evaluation` can judge them like any method.

    Args:
        model, tokenizer: the classifier (eager attention, as ``load_classifier`` loads it).
        table: an :func:`~course_utils.attribution.explain` result of the texts, or its ``.tokens``
            (its tokens are reused).
        layer: which layer's attention (default the last, the one that feeds ``[CLS]`` to the classifier).

    Returns:
        a copy of the token table with ``score`` = attention weight (≥ 0, a document's weights sum to 1
        over its tokens) and ``method = "attention"``. Taught in notebook 07.
    """
    from .attribution._result import token_table

    table = token_table(table)
    if not isinstance(table, pd.DataFrame) or not {"doc_id", "position", "token", "method", "score"} <= set(
        table.columns
    ):
        raise TypeError("table must be the DataFrame returned by course_utils.attribution.explain()")
    if table.empty:
        raise ValueError("table has no rows: explain at least one text")
    table = table.sort_values(["doc_id", "position"], kind="stable").reset_index(drop=True)
    if table["method"].nunique() != 1:
        raise ValueError(
            "table must hold one method (its tokens are reused); select one with table[table.method == ...]"
        )
    n_layers = model.config.num_hidden_layers
    check_scalar(
        layer, "layer", int, min_val=-n_layers, max_val=n_layers - 1, hint="(negative: from the last layer)"
    )
    docs = [(doc_id, rows) for doc_id, rows in table.groupby("doc_id", sort=True)]
    ids = [tokenizer.convert_tokens_to_ids(rows["token"].tolist()) for _, rows in docs]
    scores = {}
    with _inference.inference(
        model
    ):  # documents in doc_id order, right-padded: w[:n] are a document's tokens
        for chunk, batch in _inference.batches(
            ids, batch_size, tokenizer.pad_token_id, _inference.device_of(model), order="input"
        ):
            out = model(**batch, output_attentions=True)
            weights = (
                out.attentions[layer][:, :, 0, :].mean(1).float().cpu().numpy()
            )  # (b, s): [CLS] row, mean of heads
            for i, w in zip(chunk, weights):
                scores[docs[i][0]] = w[: len(ids[i])]
    out = table.copy()
    out["score"] = np.concatenate([scores[d] for d, _ in docs]).astype(np.float64)
    out["method"] = "attention"
    return out


# ------------------------------------------------------------------------------------------ model card
def _render(value) -> str:
    if isinstance(value, pd.DataFrame):
        header = "| " + " | ".join(map(str, value.columns)) + " |"
        rule = "|" + "---|" * len(value.columns)
        body = [
            "| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |"
            for row in value.itertuples(index=False)
        ]
        return "\n".join([header, rule, *body])
    if isinstance(value, Mapping):
        return "\n".join(
            f"- **{k}**: {v:.3g}" if isinstance(v, float) else f"- **{k}**: {v}" for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        return "\n".join(f"- {v}" for v in value)
    return str(value)


def model_card(title: str, sections: Mapping[str, object]) -> str:
    """A model card (Mitchell et al., 2019) as Markdown: one ``##`` section per entry.

    Args:
        title: the model's name.
        sections: heading → content: a string (a paragraph), a list (bullets), a dict (``- **key**: value``;
            floats with 3 significant digits) or a DataFrame (a Markdown table).

    Returns:
        Markdown text; display it with ``IPython.display.Markdown``. Taught in notebook 07.
    """
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title must be a non-empty string (the model's name)")
    if not isinstance(sections, Mapping) or not sections:
        raise TypeError("sections must be a non-empty dict {heading: content}")
    parts = [f"# Model card: {title.strip()}"]
    parts += [f"## {heading}\n\n{_render(content)}" for heading, content in sections.items()]
    return "\n\n".join(parts) + "\n"


def lexicon_explanation(
    table: pd.DataFrame, weights: Mapping[str, float], *, positive: int = 1, name: str = "lexicon"
) -> pd.DataFrame:
    """A dictionary "explanation": every word scores its weight in a lexicon, whatever the model does.

    Social scientists often read a text through a word list (a sentiment dictionary, the coefficients
    of a bag-of-words model). Put into the shape of an attribution table, such a list is a *plausible*
    explanation — it says what a reader expects — and the faithfulness tests of
    :mod:`course_utils.evaluation` show how little of the *model's* behaviour it describes.

    Args:
        table: an :func:`~course_utils.attribution.explain` result of the texts, or its ``.tokens``
            (one method; tokens reused).
        weights: lower-case word → weight towards class ``positive`` (e.g. logistic-regression coefficients);
            words not in it score 0.
        positive: the class the weights point to; a document explained for another class gets −weight.
        name: the ``method`` value of the result.

    Returns:
        a copy of the token table with ``method = name`` and ``score`` = the word's weight (signed for the
        target), split evenly over the word's WordPieces; [CLS]/[SEP] score 0. Taught in notebook 07.
    """
    from .attribution._result import token_table

    table = token_table(table)
    if not isinstance(table, pd.DataFrame) or not {"doc_id", "word_id", "word", "special", "target"} <= set(
        table.columns
    ):
        raise TypeError("table must be the DataFrame returned by course_utils.attribution.explain()")
    if table["method"].nunique() != 1:
        raise ValueError("table must hold one method (its tokens are reused)")
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a dict {{word: weight}}, got {type(weights).__name__}")
    out = table.copy()
    lookup = {str(k).lower(): float(v) for k, v in weights.items()}
    weight = out["word"].str.lower().map(lookup).fillna(0.0).where(~out["special"], 0.0)
    pieces = out.groupby(["doc_id", "word_id"])["word_id"].transform("size")
    sign = np.where(out["target"] == positive, 1.0, -1.0)
    out["score"] = (weight / pieces * sign).astype(np.float64)
    out["method"] = name
    return out
