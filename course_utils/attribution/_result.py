"""The result of :func:`course_utils.attribution.explain`: :class:`Explanations`, a token table and the rest.

    result = explain(model, tokenizer, texts, "ig")
    result.tokens        # one row per token (the tidy table)
    result.documents     # one row per document (prediction, the method's diagnostics)
    result.words()       # WordPieces summed into words
    result.to_parquet("run/"); Explanations.from_parquet("run/")

Until this release ``explain()`` returned the token DataFrame itself with the other tables hidden in pandas'
experimental ``attrs`` dictionary of the DataFrame (which pandas drops in many operations). For one release an
:class:`Explanations` still behaves like its token table — ``result["score"]``, ``result.groupby(…)``,
``result[result.doc_id == 0]``, ``len(result)``, and the old ``attrs`` dictionary — with a ``FutureWarning``
saying to use ``.tokens``. These shortcuts go away in the next release.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SHIM_MESSAGE = (
    "explain() now returns an Explanations object; use .tokens for the token table "
    "(or .to_frame()) — this shortcut goes away in the next release"
)

TOKENS_FILE, DOCUMENTS_FILE = "tokens.parquet", "documents.parquet"
WINDOWS_FILE, META_FILE = "windows.parquet", "explanations.json"


def _shim(what: str, stacklevel: int = 3) -> None:
    """The compatibility warning; ``stacklevel`` points at the user's line (the default filter shows it once
    per line)."""
    warnings.warn(f"{SHIM_MESSAGE} ({what})", FutureWarning, stacklevel=stacklevel)


@dataclass(frozen=True, eq=False, repr=False)
class Explanations:
    """Token attributions of one or more documents, by one or more methods: what :func:`explain` returns.

    Attributes:
        tokens: DataFrame with one row per token, [CLS]/[SEP] included, in document then position order:
            ``doc_id`` (int64: the Series' index when the texts were a Series with a unique integer index, so
            the table joins back to its DataFrame; else 0 … n−1 in input order; :func:`explain_corpus` uses
            the frame's id column), ``position`` (int64, 0 = [CLS]), ``token`` (WordPiece), ``word_id``
            (int64, -1 for special tokens), ``word`` (the word's text as written, or the special token),
            ``special`` (bool), ``score`` (float64; positive = the token pushes towards the target),
            ``method``, ``target`` (int64 class index), ``target_label``, ``prediction`` (predicted label),
            ``probability`` (the model's probability of the target class on the unaltered text).
        documents: DataFrame with one row per (document, method): ``doc_id, n_tokens, n_dropped, method,
            target, target_label, prediction, probability`` + the method's diagnostics (for IG ``f_input,
            f_baseline, completeness_error, relative_error, n_steps``…, for SHAP ``granularity, base_value,
            f_input, additivity_error, forward_passes``…, for LIME ``granularity, intercept, r2,
            local_prediction, forward_passes``…); windowed results add ``n_windows,
            window_probability_min, window_probability_max``.
        options: the options used (``method``, ``batch_size`` and the method's options; windowed results add
            ``long``, ``stride``, ``max_length``). After :meth:`concat` of results with different options:
            ``{"parts": [options of each part]}``.
        windows: None, or (long documents explained in overlapping windows,
            :func:`course_utils.windows.explain_windows`) one row per window: ``doc_id, window, start, stop``
            (content-token span ``[start, stop)``), ``n_tokens, method, target, target_label, prediction,
            probability`` of the window alone, then the method's diagnostics.
        cache: None, or (:func:`course_utils.corpus.explain_corpus`) ``key``, ``folder``, ``loaded`` and
            ``computed`` chunk counts, ``recomputed`` damaged chunks.

    ``len(result)`` is, for this release only and with a FutureWarning, the number of token rows (what it was
    when ``explain()`` returned a DataFrame); use ``result.n_tokens`` or ``result.n_documents``.
    """

    tokens: pd.DataFrame
    documents: pd.DataFrame
    options: dict = field(default_factory=dict)
    windows: pd.DataFrame | None = None
    cache: dict | None = None

    # ------------------------------------------------------------------------------------------- views
    @property
    def n_tokens(self) -> int:
        """Rows of :attr:`tokens`."""
        return len(self.tokens)

    @property
    def n_documents(self) -> int:
        """Distinct documents (a document explained by two methods counts once)."""
        return int(self.tokens["doc_id"].nunique())

    @property
    def methods(self) -> list[str]:
        """The methods in :attr:`tokens`, in order of appearance."""
        return [str(m) for m in pd.unique(self.tokens["method"])]

    def words(self, keep_special: bool = False) -> pd.DataFrame:
        """WordPiece scores summed into words: :func:`word_scores` of :attr:`tokens`."""
        return word_scores(self.tokens, keep_special=keep_special)

    def to_frame(self) -> pd.DataFrame:
        """A plain copy of :attr:`tokens` (a DataFrame with nothing attached: what R and other tools get)."""
        return pd.DataFrame(self.tokens, copy=True)

    # ----------------------------------------------------------------------------------------- combining
    @classmethod
    def concat(cls, results) -> Explanations:
        """Stack results (e.g. one per method): their tokens, documents and windows, in the given order.

        ``options`` stays the common one when all parts share it, else ``{"parts": [each part's options]}``;
        ``cache`` is kept only when all parts share it.
        """
        results = list(results)
        if not results or not all(isinstance(r, Explanations) for r in results):
            raise TypeError("Explanations.concat takes a non-empty list of Explanations (explain() results)")
        windows = [r.windows for r in results if r.windows is not None]
        options = [r.options for r in results]
        caches = [r.cache for r in results]
        return cls(
            tokens=pd.concat([r.tokens for r in results], ignore_index=True),
            documents=pd.concat([r.documents for r in results], ignore_index=True),
            options=dict(options[0]) if all(o == options[0] for o in options) else {"parts": options},
            windows=pd.concat(windows, ignore_index=True) if windows else None,
            cache=caches[0] if all(c == caches[0] for c in caches) else None,
        )

    # ------------------------------------------------------------------------------------------- storing
    def to_parquet(self, path) -> Path:
        """Write into the folder ``path`` (created): ``tokens.parquet``, ``documents.parquet``,
        ``windows.parquet`` (if any) and ``explanations.json`` (options and cache). Returns the folder."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.tokens.to_parquet(folder / TOKENS_FILE)
        self.documents.to_parquet(folder / DOCUMENTS_FILE)
        if self.windows is not None:
            self.windows.to_parquet(folder / WINDOWS_FILE)
        elif (folder / WINDOWS_FILE).exists():
            (folder / WINDOWS_FILE).unlink()
        meta = {"options": _to_json(self.options), "cache": _to_json(self.cache)}
        (folder / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def from_parquet(cls, path) -> Explanations:
        """Read what :meth:`to_parquet` wrote into the folder ``path``."""
        folder = Path(path)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        windows = pd.read_parquet(folder / WINDOWS_FILE) if (folder / WINDOWS_FILE).exists() else None
        return cls(
            tokens=pd.read_parquet(folder / TOKENS_FILE),
            documents=pd.read_parquet(folder / DOCUMENTS_FILE),
            options=_from_json(meta["options"]),
            windows=windows,
            cache=_from_json(meta["cache"]),
        )

    # -------------------------------------------------------------------------------------------- display
    def __repr__(self) -> str:
        windows = "" if self.windows is None else f", {len(self.windows)} windows"
        return (
            f"Explanations({self.n_documents} documents, {self.n_tokens} tokens{windows}, "
            f"method{'s' if len(self.methods) != 1 else ''} {', '.join(self.methods)}; "
            f".tokens, .documents, .words())"
        )

    def _repr_html_(self) -> str:
        import html

        return f"<p><code>{html.escape(repr(self))}</code></p>" + self.tokens.head(10)._repr_html_()

    def __bool__(self) -> bool:  # so that ``if result:`` does not go through the __len__ shim
        return True

    # --------------------------------------------- compatibility with the old DataFrame result (one release)
    def __getattr__(self, name: str):
        # only called for names the class lacks: pandas methods and columns (result.groupby, result.doc_id)
        if name.startswith("_"):
            raise AttributeError(name)
        tokens = object.__getattribute__(self, "tokens")
        if not hasattr(tokens, name):
            raise AttributeError(f"'Explanations' object has no attribute {name!r} (nor has its .tokens)")
        _shim(f"result.{name}")
        return getattr(tokens, name)

    def __getitem__(self, key):
        _shim("result[…]")
        return self.tokens[key]

    def __len__(self) -> int:
        _shim("len(result): use .n_tokens or .n_documents")
        return len(self.tokens)

    def __iter__(self):
        _shim("iterating over result")
        return iter(self.tokens)

    def __contains__(self, key) -> bool:
        _shim("… in result")
        return key in self.tokens

    @property
    def attrs(self) -> dict:
        """The old ``attrs`` dictionary (``documents``, ``options``, ``windows``, ``cache``), with a
        warning."""
        _shim("the attrs dictionary: use .documents, .options, .windows, .cache", stacklevel=3)
        out = {"documents": self.documents, "options": self.options}
        if self.windows is not None:
            out["windows"] = self.windows
        if self.cache is not None:
            out["cache"] = self.cache
        return out


def token_table(table) -> pd.DataFrame:
    """The token DataFrame of an :class:`Explanations` (or ``table`` itself if it already is a DataFrame)."""
    return table.tokens if isinstance(table, Explanations) else table


def word_scores(table: Explanations | pd.DataFrame, *, keep_special: bool = False) -> pd.DataFrame:
    """Sum the WordPiece scores of each word: one row per (doc_id, method, target, word_id).

    Args:
        table: an :func:`explain` result (:class:`Explanations`) or its token table (``result.tokens``).
        keep_special: keep ``[CLS]``/``[SEP]`` as their own rows (word_id -1 and -2); default drops them.

    Returns:
        DataFrame ``doc_id, word_id, word, tokens`` (the WordPieces joined by spaces), ``n_tokens``,
        ``score`` (sum), ``method, target, target_label, prediction, probability``; scores still sum to
        the document total when ``keep_special`` is True.
    """
    table = token_table(table)
    missing = {"doc_id", "word_id", "word", "token", "score", "special"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}; pass the result of explain()")
    rows = table if keep_special else table[~table["special"]]
    rows = rows.copy()
    if keep_special:  # [CLS] and [SEP] both have word_id -1: keep them apart
        last = rows["special"] & (rows["position"] > 0)
        rows.loc[last, "word_id"] = -2
    keys = [k for k in ("doc_id", "method", "target", "word_id") if k in rows]
    per_doc = [c for c in ("target_label", "prediction", "probability") if c in rows]
    words = (
        rows.groupby(keys, sort=True)
        .agg(
            word=("word", "first"),
            tokens=("token", " ".join),
            n_tokens=("token", "size"),
            score=("score", "sum"),
            **{c: (c, "first") for c in per_doc},
        )
        .reset_index()
    )
    words["n_tokens"] = words["n_tokens"].astype(np.int64)
    order = ["doc_id", "word_id", "word", "tokens", "n_tokens", "score", "method", "target"] + per_doc
    return words[[c for c in order if c in words]]


def _to_json(value):
    """``value`` as JSON-able data; tuples are tagged and numpy scalars converted, so that they come back."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"cannot store a dict with non-string keys in {META_FILE}: {value!r}")
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} {value!r} in {META_FILE}")


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value
