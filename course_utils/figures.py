"""The course's illustrations and plots, drawn with matplotlib in a colour-blind-safe palette.

Taught in notebook 01 (the BERT input diagram, embedding heat maps, similarities, attention). Every
function returns a ``matplotlib.figure.Figure``; functions that draw committed figures also take
``out_dir`` and then save ``<name>.png`` (150 dpi) and ``<name>.svg`` there, byte-for-byte reproducible.

Regenerate every committed figure with ``python -m course_utils figures`` (= :func:`build_all`).
Figures are built as ``matplotlib.figure.Figure`` objects without pyplot: no global state, no backend
needed, nothing to close; a notebook displays one when it is a cell's last expression.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.mathtext import MathTextParser
from matplotlib.patches import FancyBboxPatch

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
]

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7", "black": "#000000",
}
# Pale tints of the same hues as box fills (text stays black and readable in greyscale print).
_FILL = {"input": "#FFFFFF", "token": "#F8F3A8", "segment_a": "#F5D38C", "segment_b": "#B3DCF5", "position": "#9ED9C5"}
DIAGRAM_PAIR = ("The state of our Union is strong.", "We need bipartisan cooperation.")
PNG_DPI = 150
SVG_SALT = "explaining-bert"


def _enable_notebook_display() -> None:
    """Let Jupyter/Colab show a bare ``Figure`` as an image (pyplot would do this, but we do not use pyplot)."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "display_formatter", None) is not None:
        select_figure_formats(shell, {"png"})


_enable_notebook_display()


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


def write_png_svg(fig: Figure, stem: Path, *, dpi: int = PNG_DPI, **style) -> tuple[Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` without dates or versions and with a fixed SVG hash salt.

    The one place that makes the course's figure files reproducible (``viz.save`` uses it too); ``style``
    goes to ``Figure.savefig`` (e.g. ``bbox_inches="tight"``). Folders are created.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.svg"
    style = {"facecolor": "white", **style}
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}):
        fig.savefig(png, dpi=dpi, metadata={"Software": None}, **style)
        fig.savefig(svg, metadata={"Date": None, "Creator": None}, **style)
    return png, svg


# ------------------------------------------------------------------------------------- the input diagram
_MATH = MathTextParser("path")


def _subscript(symbol: str, token: str) -> str:
    """``E`` with ``token`` as a subscript in mathtext (``$E_{\\#\\#\\mathrm{ing}}$``); plain ``E(token)`` if mathtext fails."""
    hashes, rest = ("\\#\\#", token[2:]) if token.startswith("##") and len(token) > 2 else ("", token)
    text = f"${symbol}_{{{hashes}\\mathrm{{{rest}}}}}$"
    try:
        _MATH.parse(text)
    except ValueError:
        return f"{symbol}({token})"
    return text


def _box(ax, x: float, y: float, text: str, fill: str, *, hatch: str | None = None, width: float = 0.86,
         height: float = 0.62, fontsize: float = 10.5) -> None:
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=fill, edgecolor="#333333", linewidth=0.9, hatch=hatch, hatchcolor="#6A9BBE"))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color="black",
            bbox={"boxstyle": "round,pad=0.1", "facecolor": fill, "edgecolor": "none"} if hatch else None)


def bert_input_diagram(text_a: str = DIAGRAM_PAIR[0], text_b: str | None = DIAGRAM_PAIR[1], *, tokenizer=None,
                       max_tokens: int = 24, out_dir: str | os.PathLike | None = None,
                       name: str = "bert_input_embeddings") -> Figure:
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
        raise ValueError(f"the input has {len(tokens)} WordPieces, more than max_tokens={max_tokens}: "
                         "use shorter sentences (or raise max_tokens)")
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
        _box(ax, x, rows["Segment\nembeddings"], _subscript("E", "AB"[seg]), _FILL["segment_b" if seg else "segment_a"],
             hatch="//" if seg else None, width=w)
        _box(ax, x, rows["Position\nembeddings"], _subscript("E", str(i)), _FILL["position"], width=w)
        for y in (2.3, 1.1):
            ax.text(x, y, "+", ha="center", va="center", fontsize=13, fontweight="bold")
    fig.text(0.5, 0.955, "BERT's input: token + segment + position embeddings, summed and layer-normalised",
             ha="center", va="center", fontsize=11)
    if out_dir is not None:
        save_figure(fig, name, out_dir)
    return fig


def _packaged_tokenizer():
    from transformers import AutoTokenizer

    from .models import PACKAGED, model_source

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
    parts = {"token": components.token, "segment": components.segment, "position": components.position,
             "sum": components.summed, "after LayerNorm": components.combined}
    mats = {k: v[index][keep][:, :n_dims].detach().cpu().numpy() for k, v in parts.items()}  # (n_tokens, n_dims)
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
    cols = {"token_norm": ("token", OKABE_ITO["yellow"], None), "segment_norm": ("segment", OKABE_ITO["orange"], "//"),
            "position_norm": ("position", OKABE_ITO["bluish_green"], ".."), "summed_norm": ("sum", OKABE_ITO["blue"], None)}
    x = np.arange(len(norms))
    fig = Figure(figsize=(max(6.0, 0.45 * len(norms) + 2), 3.2), layout="constrained")
    ax = fig.subplots()
    for j, (col, (label, colour, hatch)) in enumerate(cols.items()):
        ax.bar(x + (j - 1.5) * 0.2, norms[col], width=0.2, label=label, color=colour, hatch=hatch, edgecolor="#333333", linewidth=0.4)
    ax.set_xticks(x, norms["token"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("L2 norm")
    ax.legend(ncols=4, fontsize=8, frameon=False, loc="upper right")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def similarity_grid(matrices: Mapping[str, np.ndarray], labels: Mapping[str, Sequence[str]], *, vmin: float | None = None) -> Figure:
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
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < (vmin + 1) / 2 else "black")
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


# ------------------------------------------------------------------------------------------ committed set
def _input_diagram() -> Figure:
    return bert_input_diagram(*DIAGRAM_PAIR)


def _input_diagram_single() -> Figure:
    return bert_input_diagram(DIAGRAM_PAIR[0], None)


#: Every committed figure: file name (without extension) → function drawing it (no arguments).
#: Other notebooks' illustrations are added here so that :func:`build_all` regenerates them too.
COMMITTED: dict[str, Callable[[], Figure]] = {
    "bert_input_embeddings": _input_diagram,
    "bert_input_embeddings_single": _input_diagram_single,
}


def build_all(out_dir: str | os.PathLike = "figures", *, names: Sequence[str] | None = None) -> list[Path]:
    """Regenerate the course's committed figures (PNG + SVG) in ``out_dir``; same files on every run.

    This is what ``python -m course_utils figures`` runs. Needs no model weights, only the packaged tokenizer.

    Args:
        out_dir: target folder (created if missing); the repository keeps them in ``figures/``.
        names: only these figures (keys of :data:`COMMITTED`); default all.

    Returns:
        the paths written.
    """
    names = list(COMMITTED) if names is None else list(names)
    unknown = [n for n in names if n not in COMMITTED]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; choose from {sorted(COMMITTED)}")
    written: list[Path] = []
    for name in names:
        fig = COMMITTED[name]()
        written += save_figure(fig, name, out_dir)
    return written


# Notebooks 04-05's committed figures live in their lessons' figure modules (registered here, issue 17).
from course_utils import evaluation_figures as _evaluation_figures, masking_figures as _masking_figures  # noqa: E402

COMMITTED.update({**_masking_figures.COMMITTED, **_evaluation_figures.COMMITTED})
