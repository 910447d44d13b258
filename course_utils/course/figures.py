"""The course's illustrations and plots, drawn with matplotlib in a colour-blind-safe palette.

Taught in notebook 01 (the BERT input diagram, embedding heat maps, similarities, attention). Every
function returns a ``matplotlib.figure.Figure``; functions that draw committed figures also take
``out_dir`` and then save ``<name>.png`` (150 dpi) and ``<name>.svg`` there, byte-for-byte reproducible.

Regenerate every committed figure with ``python -m course_utils figures`` (= :func:`build_all`).
Figures are built as ``matplotlib.figure.Figure`` objects without pyplot: no global state, no backend
needed, nothing to close; a notebook displays one when it is a cell's last expression.

Course scaffolding (``course_utils/course/``; the old path ``course_utils.figures`` is the same module): the
palette :data:`OKABE_ITO` and the reproducible PNG/SVG writer come from the library's :mod:`course_utils.plotting`,
which ``viz``, ``corpus`` and ``influence`` use too.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.mathtext import MathTextParser
from matplotlib.patches import FancyBboxPatch

from .._validation import check_positive_int, check_scalar
from ..compat import make_patch
from ..plotting import OKABE_ITO, PNG_DPI, SVG_SALT, enable_notebook_display, write_png_svg  # noqa: F401  (re-exported)

__all__ = [
    "COMMITTED",
    "DIAGRAM_PAIR",
    "OKABE_ITO",
    "attention_heatmap",
    "bert_input_diagram",
    "build_all",
    "component_heatmaps",
    "component_norms_plot",
    "head_summary_heatmap",
    "save_figure",
    "similarity_grid",
    # issue 17: lesson pictures of notebooks 01-03
    "CLASSIFIER_FIGURES",
    "fine_tuning_pipeline_figure",
    "ig_path_figure",
    "ig_path_integrand",
    "ig_path_paragraph",
    "pretraining_tasks_figure",
    "self_attention_figure",
    "self_attention_parts",
]

# Pale tints of the same hues as box fills (text stays black and readable in greyscale print).
_FILL = {
    "input": "#FFFFFF",
    "token": "#F8F3A8",
    "segment_a": "#F5D38C",
    "segment_b": "#B3DCF5",
    "position": "#9ED9C5",
}
DIAGRAM_PAIR = ("The state of our Union is strong.", "We need bipartisan cooperation.")

enable_notebook_display()  # a cell that ends with one of these figures shows it


# ------------------------------------------------------------------------------------------------- saving
def save_figure(fig: Figure, name: str, out_dir: str | os.PathLike) -> list[Path]:
    """Save ``fig`` as ``out_dir/name.png`` (150 dpi) and ``out_dir/name.svg``, reproducibly.

    The SVG carries no date and fixed element ids (``svg.hashsalt``), the PNG no software/date stamp, so
    rebuilding an unchanged figure gives identical files.

    Returns:
        the two paths written, PNG first.
    """
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"name={name!r}: use letters, digits, '_', '-' or '.', e.g. 'bert_input_embeddings'")
    out = Path(out_dir)
    return list(write_png_svg(fig, out / name))


# ------------------------------------------------------------------------------------- the input diagram
_MATH = MathTextParser("path")


def _subscript(symbol: str, token: str) -> str:
    """``E`` with ``token`` as a subscript in mathtext (``$E_{\\#\\#\\mathrm{ing}}$``); plain ``E(token)`` if
    mathtext fails."""
    hashes, rest = ("\\#\\#", token[2:]) if token.startswith("##") and len(token) > 2 else ("", token)
    text = f"${symbol}_{{{hashes}\\mathrm{{{rest}}}}}$"
    try:
        _MATH.parse(text)
    except ValueError:
        return f"{symbol}({token})"
    return text


def _box(
    ax,
    x: float,
    y: float,
    text: str,
    fill: str,
    *,
    hatch: str | None = None,
    width: float = 0.86,
    height: float = 0.62,
    fontsize: float = 10.5,
) -> None:
    ax.add_patch(
        make_patch(
            FancyBboxPatch,
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=fill,
            edgecolor="#333333",
            linewidth=0.9,
            hatch=hatch,
            hatchcolor="#6A9BBE",
        )
    )
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=fontsize,
        color="black",
        bbox={"boxstyle": "round,pad=0.1", "facecolor": fill, "edgecolor": "none"} if hatch else None,
    )


def bert_input_diagram(
    text_a: str = DIAGRAM_PAIR[0],
    text_b: str | None = DIAGRAM_PAIR[1],
    *,
    tokenizer=None,
    max_tokens: int = 24,
    out_dir: str | os.PathLike | None = None,
    name: str = "bert_input_embeddings",
) -> Figure:
    """The classic BERT input diagram: tokens, and under each its token, segment and position embedding.

    Rows from top to bottom: the WordPieces (with ``[CLS]``/``[SEP]``), the token embeddings
    ``E_token``, ``+`` the segment embeddings ``E_A``/``E_B`` (sentence A / B, B also hatched for
    greyscale print), ``+`` the position embeddings ``E_0 … E_n``. The sum, after LayerNorm, is what the
    encoder reads. Taught in notebook 01.

    Args:
        text_a, text_b: the sentence pair (``text_b=None`` for a single sentence).
        tokenizer: a BERT tokenizer; default the packaged MiniLM's (same uncased WordPiece vocabulary as
            ``bert-base-uncased``).
        max_tokens: refuse longer inputs (the diagram would be unreadable).
        out_dir: if given, also save ``name``.png/.svg there (see :func:`save_figure`).

    Returns:
        the Figure (about 0.8 inch per token wide).
    """
    if tokenizer is None:
        tokenizer = _packaged_tokenizer()
    for arg, value in (("text_a", text_a), ("text_b", text_b)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{arg}={value!r}: give a non-empty sentence")
    enc = tokenizer(text_a, text_b) if text_b is not None else tokenizer(text_a)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    types = enc.get("token_type_ids", [0] * len(tokens))
    if len(tokens) > max_tokens:
        raise ValueError(
            f"the input has {len(tokens)} WordPieces, more than max_tokens={max_tokens}: "
            "use shorter sentences (or raise max_tokens)"
        )
    widths = [max(0.86, 0.095 * len(t) + 0.15) for t in tokens]  # long WordPieces get wider columns
    centres = np.cumsum([0.0] + [(a + b) / 2 + 0.1 for a, b in zip(widths, widths[1:])])
    right = centres[-1] + widths[-1] / 2
    rows = {"Input": 4.0, "Token\nembeddings": 2.9, "Segment\nembeddings": 1.7, "Position\nembeddings": 0.5}
    fig = Figure(figsize=(2.0 + 0.8 * right, 3.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-2.3, right + 0.1)
    ax.set_ylim(-0.05, 4.75)
    ax.axis("off")
    for label, y in rows.items():
        ax.text(-1.3, y, label, ha="center", va="center", fontsize=10.5, fontweight="bold")
    for i, (tok, seg, x, w) in enumerate(zip(tokens, types, centres, widths)):
        _box(ax, x, rows["Input"], tok, _FILL["input"], width=w)
        _box(ax, x, rows["Token\nembeddings"], _subscript("E", tok), _FILL["token"], width=w)
        _box(
            ax,
            x,
            rows["Segment\nembeddings"],
            _subscript("E", "AB"[seg]),
            _FILL["segment_b" if seg else "segment_a"],
            hatch="//" if seg else None,
            width=w,
        )
        _box(ax, x, rows["Position\nembeddings"], _subscript("E", str(i)), _FILL["position"], width=w)
        for y in (2.3, 1.1):
            ax.text(x, y, "+", ha="center", va="center", fontsize=13, fontweight="bold")
    fig.text(
        0.5,
        0.955,
        "BERT's input: token + segment + position embeddings, summed and layer-normalised",
        ha="center",
        va="center",
        fontsize=11,
    )
    if out_dir is not None:
        save_figure(fig, name, out_dir)
    return fig


def _packaged_tokenizer():
    from transformers import AutoTokenizer

    from ..models import PACKAGED, model_source

    return AutoTokenizer.from_pretrained(model_source(PACKAGED))


# ------------------------------------------------------------------------------- notebook 01 plots
def component_heatmaps(components, index: int = 0, n_dims: int = 32) -> Figure:
    """Heat maps of the first ``n_dims`` dimensions of each embedding component for text ``index``.

    Panels: token, segment, position, their sum, and the LayerNormed result; rows are the (non-padding)
    tokens, columns the dimensions; one diverging colour scale per row of panels centred at 0.

    Args:
        components: an :class:`course_utils.embeddings.EmbeddingComponents`.

    Returns:
        the Figure.
    """
    keep = components.attention_mask[index].bool().cpu()  # (seq,)
    tokens = [t for t, k in zip(components.tokens[index], keep.tolist()) if k]
    parts = {
        "token": components.token,
        "segment": components.segment,
        "position": components.position,
        "sum": components.summed,
        "after LayerNorm": components.combined,
    }
    mats = {
        k: v[index][keep][:, :n_dims].detach().cpu().numpy() for k, v in parts.items()
    }  # (n_tokens, n_dims)
    raw_lim = max(np.abs(mats[k]).max() for k in ("token", "segment", "position", "sum"))
    fig = Figure(figsize=(2.3 * len(mats) + 1.2, 0.22 * len(tokens) + 1.6), layout="constrained")
    axes = fig.subplots(1, len(mats), sharey=True)
    for ax, (name, mat) in zip(axes, mats.items()):
        lim = np.abs(mat).max() if name == "after LayerNorm" else raw_lim
        im = ax.imshow(mat, cmap="PuOr_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(f"dimension (first {mat.shape[1]})", fontsize=8)
        if name in ("sum", "after LayerNorm"):
            fig.colorbar(im, ax=ax, shrink=0.8)
    axes[0].set_yticks(range(len(tokens)), tokens, fontsize=8)
    return fig


def component_norms_plot(norms) -> Figure:
    """Grouped bars of the L2 norm of each component per token (from ``EmbeddingComponents.norms()``)."""
    cols = {
        "token_norm": ("token", OKABE_ITO["yellow"], None),
        "segment_norm": ("segment", OKABE_ITO["orange"], "//"),
        "position_norm": ("position", OKABE_ITO["bluish_green"], ".."),
        "summed_norm": ("sum", OKABE_ITO["blue"], None),
    }
    x = np.arange(len(norms))
    fig = Figure(figsize=(max(6.0, 0.45 * len(norms) + 2), 3.2), layout="constrained")
    ax = fig.subplots()
    for j, (col, (label, colour, hatch)) in enumerate(cols.items()):
        ax.bar(
            x + (j - 1.5) * 0.2,
            norms[col],
            width=0.2,
            label=label,
            color=colour,
            hatch=hatch,
            edgecolor="#333333",
            linewidth=0.4,
        )
    ax.set_xticks(x, norms["token"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("L2 norm")
    ax.legend(ncols=4, fontsize=8, frameon=False, loc="upper right")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def similarity_grid(
    matrices: Mapping[str, np.ndarray], labels: Mapping[str, Sequence[str]], *, vmin: float | None = None
) -> Figure:
    """One annotated cosine-similarity heat map per word, side by side.

    Args:
        matrices: word → ``(n, n)`` cosine matrix (e.g. from :func:`course_utils.embeddings.cosine_matrix`).
        labels: word → ``n`` short row labels (e.g. "river 1", "money 1").
        vmin: lower end of the shared colour scale (default: the smallest value shown).
    """
    words = list(matrices)
    vmin = min(float(np.min(m)) for m in matrices.values()) if vmin is None else vmin
    fig = Figure(figsize=(3.1 * len(words) + 0.8, 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(words)))
    for ax, word in zip(axes, words):
        mat = np.asarray(matrices[word])
        im = ax.imshow(mat, cmap="viridis", vmin=vmin, vmax=1.0)
        ax.set_xticks(range(len(mat)), labels[word], rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(mat)), labels[word], fontsize=8)
        ax.set_title(f"“{word}”", fontsize=10)
        for (i, j), v in np.ndenumerate(mat):
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v < (vmin + 1) / 2 else "black",
            )
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="cosine similarity")
    return fig


def attention_heatmap(amap) -> Figure:
    """The attention weights of one head (a :class:`course_utils.embeddings.AttentionMap`) as a heat map.

    Rows are queries (the token that looks), columns keys (the token looked at); each row sums to 1.
    """
    n = len(amap.tokens)
    fig = Figure(figsize=(0.28 * n + 2.2, 0.28 * n + 1.4), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(amap.weights, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(n), amap.tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(n), amap.tokens, fontsize=8)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(f"layer {amap.layer}, head {amap.head}", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="attention weight")
    return fig


def head_summary_heatmap(summary, column: str = "special", title: str | None = None) -> Figure:
    """A layers × heads grid of one column of :func:`course_utils.embeddings.head_summary` (e.g. ``"special"``)."""
    if column not in summary.columns:
        raise ValueError(f"column={column!r} is not in the summary; choose from {list(summary.columns)}")
    grid = summary.pivot(index="layer", columns="head", values=column).to_numpy()  # (layers, heads)
    fig = Figure(figsize=(0.45 * grid.shape[1] + 2.0, 0.45 * grid.shape[0] + 1.3), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.5 else "black")
    ax.set_xticks(range(grid.shape[1]))
    ax.set_yticks(range(grid.shape[0]))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title or f"attention share: {column}", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


# ------------------------------------------------------------- lesson pictures of notebooks 01-03 (issue 17)
ATTENTION_SENTENCE = "The state of our Union is strong."
PIPELINE_TEXT = "We will cut taxes for working families."
MLM_EXAMPLE = ("The state of our Union is strong.", "union")  # the sentence and the word hidden by [MASK]
NSP_EXAMPLE = ("The state of our Union is strong.", "We need bipartisan cooperation.")


def _flow_box(
    ax, x: float, y: float, w: float, h: float, title: str, body: str, fill: str, *, hatch: str | None = None
) -> None:
    """A rounded box with a bold title line and a smaller body, centred at (x, y) (diagram helper)."""
    ax.add_patch(
        make_patch(
            FancyBboxPatch,
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=fill,
            edgecolor="#333333",
            linewidth=0.9,
            hatch=hatch,
            hatchcolor="#6A9BBE",
        )
    )
    ax.text(x, y + h / 2 - 0.18, title, ha="center", va="top", fontsize=10, fontweight="bold")
    ax.text(x, y - 0.12, body, ha="center", va="center", fontsize=8.5, linespacing=1.35)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], colour: str = "#333333") -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.4})


def self_attention_parts(
    model, tokenizer, text: str = ATTENTION_SENTENCE, *, layer: int | None = None, head: int | None = None
) -> dict:
    """Queries, keys and attention weights of one head, recomputed by hand and checked against the model.

    ``q = h W_Q + b_Q`` and ``k = h W_K + b_K`` for the head's slice of the layer's input ``h`` (the previous
    hidden state), then ``softmax(q kᵀ / √d)``. Taught in notebook 01.

    Args:
        model: a BERT (or a model containing one) loaded with eager attention (``models.load_encoder``).
        layer, head: the head to show; ``None`` = the head that puts most attention on the previous piece
            (found with :func:`course_utils.embeddings.head_summary`), a head with a readable pattern.

    Returns:
        dict with ``tokens`` (seq,), ``queries`` and ``keys`` ``(seq, d)``, ``weights`` ``(seq, seq)`` (rows sum
        to 1), ``layer``, ``head`` and ``max_diff`` (largest difference from the model's own weights).

    Raises:
        RuntimeError: the hand computation differs from the model's attention by more than 1e-4 (not a
            standard BERT self-attention).
    """
    import torch

    from .. import embeddings as E

    bert = E.bert_of(model)
    if layer is None or head is None:
        summary = E.head_summary(model, tokenizer, text)
        best = summary.loc[summary["previous"].idxmax()]
        layer, head = int(best["layer"]), int(best["head"])
    config = bert.config
    layer = E._check_index("layer", layer, config.num_hidden_layers, "layers")
    head = E._check_index("head", head, config.num_attention_heads, "heads per layer")
    batch = E.encode(model, tokenizer, text)
    with torch.no_grad():
        out = bert(**batch, output_hidden_states=True, output_attentions=True)
        hidden = out.hidden_states[layer][0]  # (seq, hidden): the layer's input
        attn = bert.encoder.layer[layer].attention.self
        d = config.hidden_size // config.num_attention_heads
        cols = slice(head * d, (head + 1) * d)
        q = attn.query(hidden)[:, cols]  # (seq, d)
        k = attn.key(hidden)[:, cols]  # (seq, d)
        weights = torch.softmax(q @ k.T / d**0.5, dim=-1)  # (seq, seq)
        reference = out.attentions[layer][0, head]  # (seq, seq)
    max_diff = float((weights - reference).abs().max())
    if max_diff > 1e-4:
        raise RuntimeError(
            f"queries·keys differ from the model's attention by {max_diff:.1e}: is this a standard "
            "BERT self-attention loaded with attn_implementation='eager'?"
        )
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
    return {
        "tokens": tokens,
        "queries": q.float().cpu().numpy(),
        "keys": k.float().cpu().numpy(),
        "weights": weights.float().cpu().numpy(),
        "layer": layer,
        "head": head,
        "max_diff": max_diff,
    }


def self_attention_figure(
    model=None,
    tokenizer=None,
    text: str = ATTENTION_SENTENCE,
    *,
    layer: int | None = None,
    head: int | None = None,
    query: str = "union",
    n_dims: int = 12,
) -> Figure:
    """Self-attention on a real sentence: one head's queries, keys and weights (from the model itself).

    Left: the query vectors (first ``n_dims`` of the head's dimensions), one row per piece; middle: the key
    vectors; right: the weights ``softmax(q·k/√d)`` (rows = queries, each sums to 1), with the row of
    ``query`` outlined and its three largest weights written in. Taught in notebook 01.

    Args:
        model, tokenizer: default the packaged MiniLM (:func:`course_utils.models.load_encoder`), offline.
        query: the piece whose row is outlined (must be one of the sentence's WordPieces).

    Returns:
        the Figure.
    """
    from matplotlib.patches import Rectangle

    if model is None or tokenizer is None:
        from ..models import PACKAGED, load_encoder

        tokenizer, model = load_encoder(PACKAGED, device="cpu")
    parts = self_attention_parts(model, tokenizer, text, layer=layer, head=head)
    # Drawn at 3 decimals: the last bits of a matrix product depend on the thread count, and the figure
    # must regenerate byte for byte on any machine (tests/test_figures.py).
    parts = {**parts, **{key: np.round(parts[key], 3) for key in ("queries", "keys", "weights")}}
    tokens, weights = parts["tokens"], parts["weights"]
    if query not in tokens:
        raise ValueError(f"query={query!r} is not a WordPiece of the sentence; choose one of {tokens}")
    qi, n = tokens.index(query), len(tokens)
    dims = min(n_dims, parts["queries"].shape[1])
    fig = Figure(figsize=(12.5, 0.34 * n + 2.0), layout="constrained")
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [dims, dims, n]})
    lim = max(np.abs(parts["queries"][:, :dims]).max(), np.abs(parts["keys"][:, :dims]).max())
    for ax, key, title in (
        (axes[0], "queries", "queries q = h·W_Q\n(what each piece looks for)"),
        (axes[1], "keys", "keys k = h·W_K\n(what each piece offers)"),
    ):
        im = ax.imshow(
            parts[key][:, :dims], cmap="PuOr_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest"
        )
        ax.set_yticks(range(n), tokens, fontsize=9)
        ax.set_xticks(range(dims), [str(j) for j in range(dims)], fontsize=7)
        ax.set_xlabel(f"dimension (first {dims} of {parts['queries'].shape[1]})", fontsize=8)
        ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=axes[:2], shrink=0.8, label="value", location="bottom")
    im = axes[2].imshow(weights, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    axes[2].set_xticks(range(n), tokens, rotation=90, fontsize=9)
    axes[2].set_yticks(range(n), tokens, fontsize=9)
    axes[2].set_xlabel("key (looked at)")
    axes[2].set_ylabel("query (looking)")
    axes[2].add_patch(
        Rectangle((-0.5, qi - 0.5), n, 1, fill=False, edgecolor=OKABE_ITO["vermillion"], linewidth=2.2)
    )
    for j in np.argsort(-weights[qi])[:3]:
        axes[2].text(
            j,
            qi,
            f"{weights[qi, j]:.2f}",
            ha="center",
            va="center",
            fontsize=7.5,
            color="black" if weights[qi, j] > 0.5 else "white",
        )
    axes[2].set_title(
        f"weights softmax(q·k/√d): layer {parts['layer']}, head {parts['head']}\n"
        f"outlined: where “{query}” looks (each row sums to 1)",
        fontsize=10,
    )
    fig.colorbar(im, ax=axes[2], shrink=0.8, label="attention weight")
    return fig


def fine_tuning_pipeline_figure(
    text: str = PIPELINE_TEXT,
    *,
    tokenizer=None,
    hidden_size: int = 384,
    n_layers: int = 6,
    labels: Sequence[str] = ("Democratic", "Republican"),
) -> Figure:
    """The fine-tuned classifier as a pipeline: text → WordPieces → encoder → [CLS] → head → probability → explanation.

    The WordPieces are the tokenizer's real ones for ``text``; no model output is drawn (the numbers come in
    notebooks 02 and 03). Taught in notebook 02.

    Args:
        tokenizer: default the packaged MiniLM's.
        hidden_size: the length of the ``[CLS]`` vector (384 for MiniLM, 768 for bert-base).
        n_layers: encoder layers (6 for MiniLM, 12 for bert-base).
        labels: the classes of the head.

    Returns:
        the Figure (two rows of boxes joined by arrows).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text={text!r}: give a non-empty sentence")
    check_positive_int(hidden_size, "hidden_size", hint="(such as 384)")
    if tokenizer is None:
        tokenizer = _packaged_tokenizer()
    pieces = tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
    if len(pieces) > 16:
        raise ValueError(
            f"text has {len(pieces)} WordPieces; use a sentence of at most 16 for a readable diagram"
        )
    lines, line = [], ""
    for p in pieces:  # wrap the pieces into lines of about 22 characters
        if line and len(line) + len(p) + 1 > 22:
            lines.append(line)
            line = ""
        line = f"{line} {p}".strip()
    lines.append(line)
    k = len(labels)
    steps = [
        ("1 · text", "“" + "\n".join(textwrap.wrap(text, 20)) + "”", "#FFFFFF"),
        ("2 · WordPieces", "\n".join(lines), _FILL["token"]),
        (
            "3 · BERT encoder",
            f"embeddings + {n_layers} layers\nof self-attention\n(notebook 01)",
            _FILL["segment_b"],
        ),
        (
            "4 · [CLS] vector",
            f"the encoder's output\nat position 0:\n{hidden_size} numbers",
            _FILL["segment_a"],
        ),
        ("5 · head", f"pooler, then a linear\nlayer {hidden_size} → {k}:\n{k} logits", _FILL["position"]),
        ("6 · probability", "softmax of the logits:\n" + "\n".join(f"p({lab})" for lab in labels), "#F3D0E4"),
        (
            "7 · explanation",
            "one score per piece:\nhow much it pushed\np(target)\n(notebooks 03–05)",
            "#FFFFFF",
        ),
    ]
    fig = Figure(figsize=(13.0, 2.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 13.0)
    ax.set_ylim(0, 2.6)
    ax.axis("off")
    w, h, y = 1.62, 1.55, 1.15
    xs = [0.95 + i * 1.85 for i in range(len(steps))]
    for i, (x, (title, body, fill)) in enumerate(zip(xs, steps)):
        _flow_box(ax, x, y, w, h, title, body, fill)
        if i:
            _arrow(ax, (xs[i - 1] + w / 2 + 0.02, y), (x - w / 2 - 0.02, y))
    ax.text(
        6.5,
        2.35,
        "A fine-tuned BERT classifier, step by step (fine-tuning trains steps 3–5 on labelled paragraphs)",
        ha="center",
        va="center",
        fontsize=11,
    )
    return fig


def pretraining_tasks_figure(
    *, tokenizer=None, mlm: tuple[str, str] = MLM_EXAMPLE, nsp: tuple[str, str] = NSP_EXAMPLE
) -> Figure:
    """BERT's two pre-training tasks (Devlin et al., 2019): masked words and next-sentence prediction.

    Top: a sentence with one word replaced by ``[MASK]``; the model must predict the hidden word from both
    sides. Bottom: a sentence pair, segments A and B (B hatched), and ``[CLS]`` predicting whether B really
    followed A. The tokens are the tokenizer's real WordPieces. Taught in notebook 01 ("why BERT").

    Args:
        mlm: ``(sentence, word)``: the word (one WordPiece of the sentence) is masked.
        nsp: ``(sentence A, sentence B)``.

    Returns:
        the Figure.
    """
    if tokenizer is None:
        tokenizer = _packaged_tokenizer()
    sentence, word = mlm
    ids = tokenizer(sentence)["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    if word not in pieces:
        raise ValueError(f"mlm word {word!r} is not one WordPiece of {sentence!r}; choose one of {pieces}")
    masked = [tokenizer.mask_token if p == word else p for p in pieces]
    enc = tokenizer(*nsp)
    pair = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    types = enc.get("token_type_ids", [0] * len(pair))

    def layout(tokens):  # long WordPieces get wider boxes (as in the input diagram)
        widths = [max(0.72, 0.085 * len(t) + 0.2) for t in tokens]
        centres = np.cumsum([0.0] + [(a + b) / 2 + 0.06 for a, b in zip(widths, widths[1:])])
        return widths, centres

    (w_m, x_m), (w_p, x_p) = layout(masked), layout(pair)
    right = max(x_m[-1] + w_m[-1] / 2, x_p[-1] + w_p[-1] / 2, 8.6)
    fig = Figure(figsize=(0.3 + 0.78 * (right + 0.9), 4.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.75, right + 0.15)
    ax.set_ylim(0, 4.6)
    ax.axis("off")
    ax.text(
        -0.7,
        4.35,
        "1 · Masked words: predict the hidden piece from the words on both sides",
        ha="left",
        va="center",
        fontsize=10.5,
        fontweight="bold",
    )
    for p, w, x in zip(masked, w_m, x_m):
        hit = p == tokenizer.mask_token
        _box(ax, x, 3.25, p, "#F3D0E4" if hit else _FILL["input"], width=w, fontsize=9)
        if hit:
            _arrow(ax, (x, 3.6), (x, 3.95), OKABE_ITO["reddish_purple"])
            ax.text(x + 0.1, 4.0, f"→ “{word}”?", ha="left", va="bottom", fontsize=9.5, color="black")
    ax.text(
        -0.7,
        2.25,
        "2 · Next sentence: did sentence B really follow sentence A?",
        ha="left",
        va="center",
        fontsize=10.5,
        fontweight="bold",
    )
    for p, t, w, x in zip(pair, types, w_p, x_p):
        _box(
            ax,
            x,
            1.15,
            p,
            _FILL["segment_b" if t else "segment_a"],
            hatch="//" if t else None,
            width=w,
            fontsize=9,
        )
        ax.text(x, 0.6, "AB"[t], ha="center", va="center", fontsize=8)
    _arrow(ax, (0, 1.5), (0, 1.85), OKABE_ITO["blue"])
    ax.text(0.1, 1.9, "[CLS] → IsNext / NotNext", ha="left", va="bottom", fontsize=9.5)
    ax.text(
        -0.7,
        0.2,
        "Segments A / B (B hatched) as in the input diagram. Pre-training on millions of such "
        "examples teaches BERT English;\nfine-tuning starts from those weights (transfer learning).",
        ha="left",
        va="center",
        fontsize=8.5,
    )
    return fig


def ig_path_integrand(model, tokenizer, text: str, *, target: int | None = None, n_points: int = 41) -> dict:
    """IG's straight-line path for one paragraph: f along α and the integrand whose area is f(x) − f(x′).

    ``x`` are the paragraph's word embeddings, ``x′`` the ``[PAD]`` baseline (``[CLS]``/``[SEP]`` kept, as in
    notebook 03), ``f`` the softmax probability of ``target``. At each of ``n_points`` evenly spaced α in
    [0, 1] one forward and one backward pass give ``f(x′ + α(x − x′))`` and, per token,
    ``(x − x′)ᵢ · ∂f/∂xᵢ``; their sum over tokens is ``d f / d α``, and its integral over α is
    ``f(x) − f(x′)`` (completeness). Taught in notebook 03.

    Args:
        model, tokenizer: a sequence classifier (e.g. ``models.load_classifier()``) and its tokenizer.
        target: class index (default the predicted class).
        n_points: grid points, odd and at least 5 (Simpson's rule gives the area).

    Returns:
        dict with ``tokens`` (seq,), ``alphas`` (n,), ``f`` (n,), ``per_token`` ``(n, seq)`` integrands,
        ``integrand`` (n,), ``scores`` (seq,) the IG score of each token (area under its integrand), ``area``
        (Simpson's rule, = ``scores.sum()``), ``f_input``, ``f_baseline``, ``target``.
    """
    import torch

    check_scalar(n_points, "n_points", int, min_val=5, hint="(odd, for Simpson's rule; e.g. 41)")
    if n_points % 2 == 0:
        raise ValueError(f"n_points={n_points!r}: give an odd integer >= 5 (Simpson's rule), e.g. 41")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text={text!r}: give a non-empty paragraph")
    model.eval()
    device = next(model.parameters()).device
    ids = tokenizer(text, return_tensors="pt", truncation=True)["input_ids"].to(device)  # (1, seq)
    base = ids.clone()
    base[0, 1:-1] = tokenizer.pad_token_id  # [CLS] [PAD] … [SEP]
    embed = model.get_input_embeddings()
    with torch.no_grad():
        x, x0 = embed(ids)[0], embed(base)[0]  # (seq, hidden)
        if target is None:
            target = int(model(inputs_embeds=x[None]).logits.argmax(-1))
    alphas = np.linspace(0.0, 1.0, n_points)
    path = (
        x0 + torch.tensor(alphas, dtype=x.dtype, device=device)[:, None, None] * (x - x0)
    ).requires_grad_()  # (n, seq, hidden)
    prob = model(inputs_embeds=path).logits.softmax(-1)[:, target]  # (n,)
    (grads,) = torch.autograd.grad(prob.sum(), path)  # (n, seq, hidden)
    per_token = ((x - x0)[None] * grads).sum(-1).detach().cpu().double().numpy()  # (n, seq)
    integrand = per_token.sum(1)  # (n,) = df/dα
    step = alphas[1] - alphas[0]
    simpson = np.ones(n_points)
    simpson[1:-1:2], simpson[2:-1:2] = 4, 2
    area = float((simpson * integrand).sum() * step / 3)
    scores = (simpson[:, None] * per_token).sum(0) * step / 3  # (seq,) IG per token
    f = prob.detach().cpu().double().numpy()
    return {
        "tokens": tokenizer.convert_ids_to_tokens(ids[0].tolist()),
        "alphas": alphas,
        "f": f,
        "per_token": per_token,
        "integrand": integrand,
        "scores": scores,
        "area": area,
        "f_input": float(f[-1]),
        "f_baseline": float(f[0]),
        "target": target,
    }


def ig_path_figure(
    model,
    tokenizer,
    text: str,
    *,
    target: int | None = None,
    n_points: int = 41,
    n_tokens: int = 3,
    labels: Sequence[str] | None = None,
    parts: dict | None = None,
) -> Figure:
    """The IG path on a real paragraph: the prediction along α (top) and the integrand with its area (bottom).

    Top: ``f(x′ + α(x − x′))``, the probability of the target class as the paragraph fades in from the
    ``[PAD]`` baseline (α = 0) to the real text (α = 1). Bottom: ``d f / d α`` (the sum over tokens of
    ``(x − x′)ᵢ · ∂f/∂xᵢ``), shaded: its area is ``f(x) − f(x′)``, which IG shares out among the tokens; the
    ``n_tokens`` tokens with the largest scores are drawn too (the area under each is that token's IG score).
    Taught in notebook 03 (an essentials picture). See :func:`ig_path_integrand` for the computation;
    pass its result as ``parts`` to draw without computing again.

    Returns:
        the Figure.
    """
    if parts is None:
        parts = ig_path_integrand(model, tokenizer, text, target=target, n_points=n_points)
    a, tokens = parts["alphas"], parts["tokens"]
    names = labels or [
        getattr(model.config, "id2label", {}).get(i, str(i)) for i in range(model.config.num_labels)
    ]
    label = names[parts["target"]]
    fig = Figure(figsize=(8.0, 6.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
    top.plot(a, parts["f"], color=OKABE_ITO["vermillion"], lw=2)
    top.scatter([0, 1], [parts["f_baseline"], parts["f_input"]], color=OKABE_ITO["vermillion"], zorder=3)
    top.annotate(
        f"f(x′) = {parts['f_baseline']:.2f}\nbaseline: [CLS] [PAD] … [PAD] [SEP]",
        (0, parts["f_baseline"]),
        xytext=(8, 6),
        textcoords="offset points",
        fontsize=8.5,
    )
    top.annotate(
        f"f(x) = {parts['f_input']:.2f}\nthe paragraph",
        (1, parts["f_input"]),
        xytext=(-8, -26),
        textcoords="offset points",
        fontsize=8.5,
        ha="right",
    )
    top.set_ylabel(f"p({label})")
    top.set_ylim(-0.05, 1.05)
    top.set_title(
        "Integrated gradients on one paragraph: walk from the baseline x′ to the text x", fontsize=10.5
    )
    bottom.fill_between(a, parts["integrand"], color=OKABE_ITO["sky_blue"], alpha=0.45, linewidth=0)
    bottom.plot(a, parts["integrand"], color=OKABE_ITO["blue"], lw=2, label="all tokens: d f / d α")
    scores = parts["scores"]
    styles = ["--", ":", "-."]
    for rank, i in enumerate(np.argsort(-np.abs(scores))[:n_tokens]):
        bottom.plot(
            a,
            parts["per_token"][:, i],
            color=OKABE_ITO["black"],
            lw=1.1,
            ls=styles[rank % 3],
            label=f"“{tokens[i]}” (area = IG score {scores[i]:+.3f})",
        )
    bottom.axhline(0, color="#777777", lw=0.7)
    bottom.set_xlabel("α (0 = baseline x′, 1 = paragraph x)")
    bottom.set_ylabel("integrand")
    bottom.text(
        0.98,
        0.95,
        f"shaded area = {parts['area']:.3f}\n= f(x) − f(x′) = {parts['f_input'] - parts['f_baseline']:.3f}"
        "\n(completeness)",
        transform=bottom.transAxes,
        ha="right",
        va="top",
        fontsize=9,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#999999"},
    )
    bottom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=8, frameon=False)
    for ax in (top, bottom):
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def ig_path_paragraph(model, tokenizer, *, min_words: int = 20, max_words: int = 40) -> tuple[str, int]:
    """Notebook 03's paragraph: the most confident correct test prediction of ``min_words``–``max_words`` words.

    Returns:
        ``(text, target)``: the paragraph and its (correctly) predicted class.
    """
    from ..models import ClassifierConfig, predict_proba

    data = ClassifierConfig().load_data()
    test = data[data["split"] == "test"]
    pool = test[test["n_words"].between(min_words, max_words)]
    proba = predict_proba(model, tokenizer, pool["text"].tolist())  # (n, labels)
    labels = pool["label"].to_numpy()
    p_true = proba[np.arange(len(pool)), labels]
    right = np.flatnonzero(proba.argmax(1) == labels)
    if not len(right):
        raise ValueError("the classifier gets no test paragraph of that length right; is it trained?")
    best = right[np.argsort(-p_true[right], kind="stable")[0]]
    return pool["text"].iloc[best], int(labels[best])


# ------------------------------------------------------------------------------------------ committed set
def _input_diagram() -> Figure:
    return bert_input_diagram(*DIAGRAM_PAIR)


def _input_diagram_single() -> Figure:
    return bert_input_diagram(DIAGRAM_PAIR[0], None)


def _self_attention() -> Figure:
    return self_attention_figure()


def _ig_path_committed(model, tokenizer) -> Figure:
    text, target = ig_path_paragraph(model, tokenizer)
    return ig_path_figure(model, tokenizer, text, target=target)


#: Every committed figure: file name (without extension) → function drawing it (no arguments).
#: Other notebooks' illustrations are added here so that :func:`build_all` regenerates them too.
COMMITTED: dict[str, Callable[[], Figure]] = {
    "bert_input_embeddings": _input_diagram,
    "bert_input_embeddings_single": _input_diagram_single,
    "self_attention": _self_attention,
    "fine_tuning_pipeline": fine_tuning_pipeline_figure,
    "bert_pretraining_tasks": pretraining_tasks_figure,
}

#: Committed figures drawn from the fine-tuned classifier: name → function ``(model, tokenizer) → Figure``.
#: :func:`build_all` draws them with the cached classifier (``models.load_classifier()``) when asked to.
CLASSIFIER_FIGURES: dict[str, Callable[..., Figure]] = {
    "ig_path_integrand": _ig_path_committed,
}


def build_all(
    out_dir: str | os.PathLike = "figures",
    *,
    names: Sequence[str] | None = None,
    classifier: bool | tuple | None = None,
) -> list[Path]:
    """Regenerate the course's committed figures (PNG + SVG) in ``out_dir``; same files on every run.

    This is what ``python -m course_utils figures`` runs. The figures of :data:`COMMITTED` need only the
    packaged MiniLM (tokenizer and weights, offline); those of :data:`CLASSIFIER_FIGURES` need the fine-tuned
    classifier.

    Args:
        out_dir: target folder (created if missing); the repository keeps them in ``figures/``.
        names: only these figures (keys of :data:`COMMITTED` or :data:`CLASSIFIER_FIGURES`); default all of
            :data:`COMMITTED`, plus :data:`CLASSIFIER_FIGURES` when ``classifier`` is given.
        classifier: ``True`` = the cached classifier (``models.load_classifier()``, fine-tuned once if
            missing), or a ``(tokenizer, model)`` pair; ``None``/``False`` = none (classifier figures are
            then only drawn when named, with the cached classifier).

    Returns:
        the paths written.
    """
    known = {**COMMITTED, **CLASSIFIER_FIGURES}
    if names is None:
        names = list(COMMITTED) + (list(CLASSIFIER_FIGURES) if classifier else [])
    names = list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; choose from {sorted(known)}")
    pair = None
    if any(n in CLASSIFIER_FIGURES for n in names):
        if isinstance(classifier, tuple):
            if len(classifier) != 2:
                raise ValueError(
                    f"classifier must be True or a (tokenizer, model) pair, got a tuple of {len(classifier)}"
                )
            pair = classifier
        else:
            from ..models import load_classifier

            pair = load_classifier()
    written: list[Path] = []
    for name in names:
        if name in CLASSIFIER_FIGURES:
            tokenizer, model = pair
            fig = CLASSIFIER_FIGURES[name](model, tokenizer)
        else:
            fig = COMMITTED[name]()
        written += save_figure(fig, name, out_dir)
    return written


# Notebooks 04-05's committed figures live in their lessons' figure modules (registered here, issue 17).
from . import evaluation_figures as _evaluation_figures  # noqa: E402
from . import masking_figures as _masking_figures  # noqa: E402

COMMITTED.update({**_masking_figures.COMMITTED, **_evaluation_figures.COMMITTED})
