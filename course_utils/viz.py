"""Token heat maps of attribution tables: HTML for notebooks and browsers, matplotlib figures for slides.

Taught in notebook 03 (integrated gradients); reused in notebooks 04–07. Every function reads the tidy
table of :func:`course_utils.attribution.explain` (one row per token: ``doc_id, position, token, word_id,
word, score, method, target, target_label, prediction, probability, special``).

Colour convention, everywhere in the course: **red supports the target class, blue opposes it**, white is
zero; the scale is symmetric around 0. Colour alone does not survive a greyscale printout, so the sign is
also written in the text: tokens that clearly support the target are **bold with a solid underline**,
tokens that clearly oppose it have a *dotted underline* ("clearly" = at least :data:`MARK_SHARE` of the
colour scale).

The HTML uses inline CSS only (no JavaScript, no CDN): it renders the same in Jupyter, Colab, nbconvert
pages and a file saved with :func:`save_html`. :func:`save` writes matplotlib figures as PNG + SVG with
the same bytes on every run.
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import plotting
from ._validation import check_choice, check_scalar

plotting.enable_notebook_display()  # a cell that ends with one of this module's figures shows it

CMAP = "RdBu_r"  # diverging: blue (negative) - white (0) - red (positive)
MARK_SHARE = 0.25  # |score| >= MARK_SHARE * vmax gets the sign mark (bold/solid or dotted underline)
DARK_TEXT_SHARE = 0.6  # above this share of the scale the background is dark enough for white text
LEVELS = ("token", "word")
REQUIRED_COLUMNS = ("doc_id", "position", "token", "word_id", "score", "method")

__all__ = [
    "score_color",
    "document_scores",
    "heatmap_html",
    "show_heatmap",
    "save_html",
    "heatmap_figure",
    "compare_methods_figure",
    "completeness_figure",
    "ig_path_figure",
    "save",
]


# ------------------------------------------------------------------------------------------- checks
def _check_table(table) -> pd.DataFrame:
    """The attribution table (an :func:`explain` result's ``.tokens``), validated: a non-empty DataFrame with
    the tidy columns."""
    from .attribution._result import token_table

    table = token_table(table)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"table must be a pandas DataFrame from course_utils.attribution.explain(), got {type(table).__name__}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"table is missing the column(s) {missing}; it has {list(table.columns)}. Pass the table returned "
            "by course_utils.attribution.explain() (one row per token)."
        )
    if table.empty:
        raise ValueError("table is empty: explain at least one text before drawing a heat map")
    return table


def _check_level(level: str) -> str:
    return check_choice(level, "level", LEVELS)


def _check_vmax(vmax) -> float | None:
    return check_scalar(
        vmax,
        "vmax",
        float,
        min_val=0,
        include_boundaries="neither",
        allow_none=True,
        finite=True,
        hint="(the |score| drawn at full colour)",
    )


def _select_method(table: pd.DataFrame, method: str | None) -> pd.DataFrame:
    """The rows of one method (tables of several methods can be concatenated)."""
    methods = list(pd.unique(table["method"]))
    if method is None:
        if len(methods) > 1:
            raise ValueError(f"table holds several methods {methods}; choose one with method=...")
        return table
    if method not in methods:
        raise ValueError(f"method {method!r} is not in the table; it holds {methods}")
    return table[table["method"] == method]


def _doc_ids(table: pd.DataFrame, doc_id) -> list:
    """The requested document ids (None = every document), each checked to be in the table."""
    available = list(pd.unique(table["doc_id"]))
    if doc_id is None:
        return available
    wanted = list(doc_id) if isinstance(doc_id, (list, tuple, np.ndarray, pd.Index, pd.Series)) else [doc_id]
    unknown = [d for d in wanted if d not in set(available)]
    if unknown:
        shown = available[:10] + (["..."] if len(available) > 10 else [])
        raise ValueError(f"doc_id {unknown} not in the table; its documents are {shown}")
    return wanted


def _one_doc_id(table: pd.DataFrame, doc_id):
    """One document id; None is allowed when the table holds exactly one document."""
    if doc_id is None:
        ids = list(pd.unique(table["doc_id"]))
        if len(ids) != 1:
            raise ValueError(
                f"table holds {len(ids)} documents; choose one with doc_id=... (e.g. {ids[0]!r})"
            )
        return ids[0]
    if isinstance(doc_id, (list, tuple, np.ndarray)):
        raise TypeError(f"doc_id must be one document id here, got a {type(doc_id).__name__}")
    return _doc_ids(table, doc_id)[0]


# ---------------------------------------------------------------------------------------- the scores
def document_scores(
    table: pd.DataFrame, doc_id, level: str = "token", *, special: bool | None = None
) -> pd.DataFrame:
    """The units of one document to draw, in reading order: columns ``text, score, special``.

    Args:
        table: an attribution table with one method (see the module docstring).
        doc_id: the document.
        level: ``"token"`` (one unit per WordPiece; continuation pieces keep their ``##``) or ``"word"``
            (WordPieces joined into words, scores summed: a word's score is the sum of its pieces').
        special: keep ``[CLS]``/``[SEP]``; default True at token level, False at word level.

    Returns:
        DataFrame with one row per unit. Taught in notebook 03.
    """
    from .attribution._result import token_table

    _check_level(level)
    table = token_table(table)
    doc = table[table["doc_id"] == doc_id].sort_values("position", kind="stable")
    is_special = doc["special"].astype(bool) if "special" in doc else doc["word_id"].lt(0)
    keep_special = (level == "token") if special is None else bool(special)
    if level == "token":
        out = pd.DataFrame(
            {"text": doc["token"].astype(str), "score": doc["score"].astype(float), "special": is_special}
        )
        return out[keep_special | ~out["special"]].reset_index(drop=True)
    from .attribution import word_scores  # the one place WordPieces are summed into words

    words = word_scores(doc)  # one row per word, in word order, [CLS]/[SEP] dropped
    out = pd.DataFrame(
        {"text": words["word"].astype(str), "score": words["score"].astype(float), "special": False}
    )
    if keep_special:
        specials = doc[is_special]

        def as_units(rows: pd.DataFrame) -> pd.DataFrame:
            return pd.DataFrame(
                {"text": rows["token"].astype(str), "score": rows["score"].astype(float), "special": True}
            )

        first = specials["position"] == doc["position"].min()
        out = pd.concat([as_units(specials[first]), out, as_units(specials[~first])], ignore_index=True)
    return out


def _doc_info(table: pd.DataFrame, doc_id) -> dict:
    """Target, prediction and probability of one document (whatever columns the table has)."""
    row = table[table["doc_id"] == doc_id].iloc[0]

    def get(c: str):
        return row[c] if c in row.index and not (isinstance(row[c], float) and math.isnan(row[c])) else None

    target = get("target_label") if get("target_label") is not None else get("target")
    return {
        "method": get("method"),
        "target": target,
        "prediction": get("prediction"),
        "probability": get("probability"),
    }


def _auto_vmax(scores: Sequence[float]) -> float:
    m = float(np.max(np.abs(scores))) if len(scores) else 0.0
    return m if m > 0 and math.isfinite(m) else 1.0


# ------------------------------------------------------------------------------------------- colours
def _cmap():
    import matplotlib

    return matplotlib.colormaps[CMAP]


def score_color(score: float, vmax: float) -> str:
    """The background colour of ``score`` on a scale symmetric around 0 (``-vmax`` blue … ``+vmax`` red).

    Returns:
        ``"#rrggbb"``; scores beyond ``±vmax`` get the end colour. Taught in notebook 03.
    """
    from matplotlib.colors import to_hex

    vmax = _check_vmax(vmax)
    share = float(np.clip(score / vmax, -1.0, 1.0))
    return to_hex(_cmap()(0.5 + 0.5 * share))


def _fmt(x: float) -> str:
    return f"{x:+.3g}"


def _label(info: dict) -> str:
    return str(info["target"]) if info["target"] is not None else "the target"


# ---------------------------------------------------------------------------------------------- HTML
_BOX = "display:inline-block;padding:0 0.25em;margin:0.15em 0.1em;border-radius:0.2em;line-height:1.6;"


def _token_span(text: str, score: float, vmax: float, special: bool) -> str:
    share = score / vmax
    style = _BOX + f"background-color:{score_color(score, vmax)};"
    style += "color:#ffffff;" if abs(share) > DARK_TEXT_SHARE else "color:#000000;"
    if share >= MARK_SHARE:
        style += "font-weight:bold;text-decoration:underline solid;text-underline-offset:0.2em;"
    elif share <= -MARK_SHARE:
        style += "text-decoration:underline dotted;text-decoration-thickness:2px;text-underline-offset:0.2em;"
    if special:
        style += "font-family:monospace;font-size:0.85em;"
    title = _html.escape(f"{text}: {_fmt(score)}", quote=True)
    return f'<span style="{style}" title="{title}">{_html.escape(text)}</span>'


def _legend_html(info: dict, vmax: float) -> str:
    label = _html.escape(_label(info))
    cells = "".join(
        f'<span style="display:inline-block;width:1.4em;height:0.9em;background-color:{score_color(v, vmax)};"></span>'
        for v in np.linspace(-vmax, vmax, 9)
    )
    return (
        '<div style="font-size:0.8em;margin-top:0.4em;color:#333333;">'
        f"<span>{_fmt(-vmax)} opposes {label}</span> {cells} <span>{_fmt(vmax)} supports {label}</span><br>"
        f'<span style="font-weight:bold;text-decoration:underline solid;">bold, solid underline</span> = supports; '
        f'<span style="text-decoration:underline dotted;text-decoration-thickness:2px;">dotted underline</span> = '
        f"opposes (|score| &ge; {MARK_SHARE:.0%} of the scale); hover a token for its score.</div>"
    )


def _header_html(doc_id, info: dict, total: float) -> str:
    parts = [f"document <b>{_html.escape(str(doc_id))}</b>"]
    if info["method"] is not None:
        parts.append(f"method <b>{_html.escape(str(info['method']))}</b>")
    target = f"target <b>{_html.escape(_label(info))}</b>"
    if info["probability"] is not None:
        target += f" (p = {float(info['probability']):.2f})"
    parts.append(target)
    if info["prediction"] is not None:
        parts.append(f"prediction <b>{_html.escape(str(info['prediction']))}</b>")
    parts.append(f"sum of scores {_fmt(total)}")
    return (
        f'<div style="font-size:0.85em;color:#333333;margin-bottom:0.2em;">{" &middot; ".join(parts)}</div>'
    )


def heatmap_html(
    table: pd.DataFrame,
    doc_id=None,
    level: str = "token",
    *,
    method: str | None = None,
    vmax: float | None = None,
    special: bool | None = None,
    legend: bool = True,
) -> str:
    """A token heat map as an HTML string (inline CSS only: no JavaScript, no CDN).

    Args:
        table: attribution table from ``explain`` (several methods: choose one with ``method``).
        doc_id: a document id, a list of ids, or None for every document in the table (one block each).
        level: ``"token"`` (WordPieces) or ``"word"`` (pieces joined, scores summed).
        method: which method's rows to draw when the table holds several.
        vmax: the |score| drawn at full colour. Default: the largest |score| among the drawn documents,
            so several documents share ONE scale (raw IG scores are comparable across texts).
        special: show ``[CLS]``/``[SEP]`` (default: at token level only).
        legend: add the colour legend with the target label and the sign marks.

    Returns:
        HTML string; red = supports the target, blue = opposes; tokens are HTML-escaped.
        Taught in notebook 03.
    """
    table = _select_method(_check_table(table), method)
    _check_level(level)
    vmax = _check_vmax(vmax)
    ids = _doc_ids(table, doc_id)
    units = {d: document_scores(table, d, level, special=special) for d in ids}
    scale = vmax or _auto_vmax(np.concatenate([u["score"].to_numpy() for u in units.values()]))
    blocks = []
    for d in ids:
        info, u = _doc_info(table, d), units[d]
        total = float(table.loc[table["doc_id"] == d, "score"].sum())
        spans = "".join(_token_span(t, s, scale, sp) for t, s, sp in zip(u["text"], u["score"], u["special"]))
        block = _header_html(d, info, total) + f"<div>{spans}</div>"
        if legend:
            block += _legend_html(info, scale)
        blocks.append(f'<div style="margin-bottom:0.8em;">{block}</div>')
    return (
        '<div class="explaining-bert-heatmap" style="font-family:Helvetica,Arial,sans-serif;font-size:15px;'
        'color:#000000;background-color:#ffffff;padding:0.5em 0.7em;max-width:52em;">'
        + "".join(blocks)
        + "</div>"
    )


def show_heatmap(table: pd.DataFrame, doc_id=None, level: str = "token", **options) -> None:
    """Display :func:`heatmap_html` in Jupyter/Colab (returns None, so it is not shown twice).

    Taught in notebook 03.
    """
    from IPython.display import HTML, display

    display(HTML(heatmap_html(table, doc_id, level, **options)))


def save_html(
    table: pd.DataFrame,
    path: str | Path,
    doc_id=None,
    level: str = "token",
    *,
    title: str | None = None,
    **options,
) -> Path:
    """Write :func:`heatmap_html` as a standalone HTML page (opens in any browser, offline).

    Args:
        path: the file; ``.html`` is appended when it has no suffix; folders are created.
        title: the page title (default "Attribution heat map").
        **options: as for :func:`heatmap_html` (``method``, ``vmax``, ``special``, ``legend``).

    Returns:
        the path written. Taught in notebook 03 (saving outside Jupyter).
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or pathlib.Path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix == "":
        path = path.with_suffix(".html")
    body = heatmap_html(table, doc_id, level, **options)
    title = _html.escape(title or "Attribution heat map")
    page = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n</head>\n'
        f'<body>\n<h1 style="font-family:Helvetica,Arial,sans-serif;font-size:1.2em;">{title}</h1>\n'
        f"{body}\n</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ matplotlib
FONT_SIZE = 11.0  # points
_PAD = 2.5  # points of padding on each side of a token box
_GAP = 3.0  # points between boxes
_LINE = 22.0  # points from one line of boxes to the next


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    """Width of ``text`` in points when drawn bold (layout is the same whatever the sign marks)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    if not text.strip():
        return size * 0.3
    return float(TextPath((0, 0), text, size=size, prop=FontProperties(weight="bold")).get_extents().width)


def _layout(texts: Sequence[str], max_width: float) -> list[tuple[float, int, float]]:
    """``(x, line, width)`` of each box in points, wrapping at ``max_width``."""
    out, x, line = [], 0.0, 0
    for t in texts:
        w = _text_width(t) + 2 * _PAD
        if x > 0 and x + w > max_width:
            x, line = 0.0, line + 1
        out.append((x, line, w))
        x += w + _GAP
    return out


def _draw_boxes(ax, units: pd.DataFrame, boxes, vmax: float, y0: float) -> None:
    """Coloured boxes with their texts, sign marks as in the HTML version, top line at ``y0`` (points)."""
    from matplotlib.patches import Rectangle

    for (x, line, w), text, score, special in zip(boxes, units["text"], units["score"], units["special"]):
        share = score / vmax
        y = y0 - line * _LINE
        ax.add_patch(Rectangle((x, y - 8.5), w, 17.0, facecolor=score_color(score, vmax), edgecolor="none"))
        colour = "white" if abs(share) > DARK_TEXT_SHARE else "black"
        ax.text(
            x + _PAD,
            y,
            text,
            fontsize=FONT_SIZE * (0.85 if special else 1.0),
            va="center_baseline",
            ha="left",
            color=colour,
            weight="bold" if share >= MARK_SHARE else "normal",
            family="monospace" if special else "sans-serif",
        )
        if share >= MARK_SHARE:
            ax.plot([x + _PAD, x + w - _PAD], [y - 6.5, y - 6.5], color=colour, lw=1.0, solid_capstyle="butt")
        elif share <= -MARK_SHARE:
            ax.plot([x + _PAD, x + w - _PAD], [y - 6.5, y - 6.5], color=colour, lw=1.3, ls=(0, (1, 1.5)))


def _colorbar(fig, vmax: float, label: str, rect) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cax = fig.add_axes(rect)
    bar = fig.colorbar(ScalarMappable(Normalize(-vmax, vmax), _cmap()), cax=cax, orientation="horizontal")
    bar.set_label(label, fontsize=9)
    bar.ax.tick_params(labelsize=8)


def _token_figure(
    rows: list[tuple[str, pd.DataFrame, float]], width: float, bar_label: str, bar_vmax: float, title: str
):
    """A figure with one block of wrapped boxes per row ``(row label, units, vmax)`` and a colourbar."""
    from matplotlib.figure import Figure

    label_w = 70.0 if len(rows) > 1 else 0.0  # points reserved for row labels
    max_w = width * 72.0 - label_w - 20.0
    boxes = _layout(list(rows[0][1]["text"]), max_w)
    n_lines = max(b[1] for b in boxes) + 1
    block_h = n_lines * _LINE + 10.0
    top, bottom = 30.0, 48.0
    height_pt = top + len(rows) * block_h + bottom
    fig = Figure(figsize=(width, height_pt / 72.0))
    ax = fig.add_axes([0, bottom / height_pt, 1, 1 - (top + bottom) / height_pt])
    ax.set_xlim(-label_w - 10.0, width * 72.0 - label_w - 10.0)
    ax.set_ylim(0, len(rows) * block_h)
    ax.axis("off")
    for r, (name, units, vmax) in enumerate(rows):
        y0 = len(rows) * block_h - r * block_h - _LINE / 2 - 2.0
        if label_w:
            ax.text(-8.0, y0, name, ha="right", va="center_baseline", fontsize=10, weight="bold")
        _draw_boxes(ax, units, boxes, vmax, y0)
    fig.suptitle(title, fontsize=10, y=1 - 8.0 / height_pt, va="top")
    _colorbar(fig, bar_vmax, bar_label, [0.25, 26.0 / height_pt, 0.5, 8.0 / height_pt])
    return fig


def _title(doc_id, info: dict, total: float | None = None) -> str:
    parts = [f"document {doc_id}"]
    if info["method"] is not None:
        parts.append(f"method {info['method']}")
    target = f"target {_label(info)}"
    if info["probability"] is not None:
        target += f" (p = {float(info['probability']):.2f})"
    parts.append(target)
    if info["prediction"] is not None:
        parts.append(f"prediction {info['prediction']}")
    if total is not None:
        parts.append(f"sum {_fmt(total)}")
    return " · ".join(parts)


def heatmap_figure(
    table: pd.DataFrame,
    doc_id=None,
    level: str = "token",
    *,
    method: str | None = None,
    vmax: float | None = None,
    special: bool | None = None,
    width: float = 8.0,
):
    """A token heat map as a matplotlib Figure (for slides and print): coloured boxes wrapping over lines.

    Args:
        table, doc_id, level, method, vmax, special: as for :func:`heatmap_html` (one document here).
        width: figure width in inches; the height follows from the number of lines.

    Returns:
        ``matplotlib.figure.Figure`` with a colourbar (red supports the target, blue opposes; bold + solid
        underline / dotted underline mark the sign in greyscale). Save it with :func:`save`.
        Taught in notebook 03.
    """
    table = _select_method(_check_table(table), method)
    _check_level(level)
    vmax = _check_vmax(vmax)
    doc_id = _one_doc_id(table, doc_id)
    units = document_scores(table, doc_id, level, special=special)
    scale = vmax or _auto_vmax(units["score"].to_numpy())
    info = _doc_info(table, doc_id)
    total = float(table.loc[table["doc_id"] == doc_id, "score"].sum())
    label = f"score: blue opposes {_label(info)}, red supports it"
    return _token_figure([("", units, scale)], width, label, scale, _title(doc_id, info, total))


def compare_methods_figure(
    tables: Mapping[str, pd.DataFrame],
    doc_id,
    level: str = "token",
    *,
    scale: str = "row",
    special: bool | None = None,
    width: float = 8.0,
):
    """The same text explained several ways (methods, baselines, targets): one row of coloured boxes each.

    Args:
        tables: ``{"row label": attribution table}``, e.g. ``{"IG": ig, "LOO": loo}`` (each with one method).
        doc_id: the document, present in every table with the same tokens.
        scale: ``"row"`` (default): each row divided by its own largest |score| — needed when the rows
            measure in different units (IG: probability, leave-one-out: probability drop, AtMan:
            cross-entropy); ``"shared"``: one colour scale for all rows — for rows in the same unit
            (e.g. IG with different baselines), so that stronger rows look stronger.
        level, special, width: as for :func:`heatmap_figure`.

    Returns:
        ``matplotlib.figure.Figure``. Taught in notebook 03 (baselines); used in notebooks 04 and 05.
    """
    if not isinstance(tables, Mapping) or not tables:
        raise TypeError(
            f"tables must be a non-empty dict {{label: attribution table}}, got {type(tables).__name__}"
        )
    if scale not in ("row", "shared"):
        raise ValueError(f"scale must be 'row' or 'shared', got {scale!r}")
    _check_level(level)
    rows, reference, info = [], None, None
    for name, table in tables.items():
        table = _select_method(_check_table(table), None)
        _doc_ids(table, doc_id)
        units = document_scores(table, doc_id, level, special=special)
        if reference is None:
            reference, info = list(units["text"]), _doc_info(table, doc_id)
        elif list(units["text"]) != reference:
            raise ValueError(
                f"table {name!r} has other tokens for doc_id {doc_id!r} than the first table: "
                "compare methods on the same texts with the same tokenizer"
            )
        rows.append((str(name), units, _auto_vmax(units["score"].to_numpy())))
    info = dict(info, method=None)
    if scale == "shared":
        vmax = max(r[2] for r in rows)
        label = f"score: blue opposes {_label(info)}, red supports it (one scale for all rows)"
        return _token_figure([(n, u, vmax) for n, u, _ in rows], width, label, vmax, _title(doc_id, info))
    rows = [(n, u.assign(score=u["score"] / v), 1.0) for n, u, v in rows]
    label = f"score / largest |score| of the row: blue opposes {_label(info)}, red supports it"
    return _token_figure(rows, width, label, 1.0, _title(doc_id, info))


def completeness_figure(errors: pd.DataFrame, *, tolerance: float = 0.01):
    """Completeness error against the number of integration steps, one line per quadrature rule.

    Args:
        errors: one row per (document, rule, steps) with columns ``quadrature``, ``n_steps`` and
            ``relative_error`` (|Σ scores − (f(x) − f(x′))| / |f(x) − f(x′)|), e.g. the stacked
            ``.documents`` tables of several ``integrated_gradients`` runs with a ``quadrature`` column.
        tolerance: drawn as a dashed line (0.01 = 1 %).

    Returns:
        ``matplotlib.figure.Figure``: median over documents (line) and the worst document (dotted), log scales.
        Taught in notebook 03.
    """
    from matplotlib.figure import Figure

    if not isinstance(errors, pd.DataFrame):
        raise TypeError(f"errors must be a pandas DataFrame, got {type(errors).__name__}")
    missing = [c for c in ("quadrature", "n_steps", "relative_error") if c not in errors.columns]
    if missing:
        raise ValueError(
            f"errors is missing the column(s) {missing}; it needs quadrature, n_steps, relative_error"
        )
    stats = errors.groupby(["quadrature", "n_steps"])["relative_error"].agg(["median", "max"]).reset_index()
    fig = Figure(figsize=(5.2, 3.4))
    ax = fig.subplots()
    colours = {"gauss_legendre": "#b2182b", "riemann_trapezoid": "#2166ac"}
    for (rule, group), marker in zip(stats.groupby("quadrature", sort=True), "os^v"):
        colour = colours.get(rule)
        ax.plot(
            group["n_steps"],
            group["median"].clip(lower=1e-9),
            marker=marker,
            color=colour,
            label=f"{rule}: median",
        )
        ax.plot(
            group["n_steps"],
            group["max"].clip(lower=1e-9),
            marker=marker,
            color=colour,
            ls=":",
            mfc="none",
            label=f"{rule}: worst document",
        )
    ax.axhline(tolerance, color="black", ls="--", lw=1)
    ax.annotate(
        f"{tolerance:.0%} of |f(x) − f(x′)|",
        (stats["n_steps"].max(), tolerance),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=8,
        ha="right",
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(stats["n_steps"].unique()), [str(n) for n in sorted(stats["n_steps"].unique())])
    ax.set_xlabel("integration steps")
    ax.set_ylabel("relative completeness error")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("How many steps are enough?", fontsize=10)
    fig.set_layout_engine("tight")
    return fig


def ig_path_figure(n_points: int = 8, x=(2.0, 1.0), baseline=(0.0, 0.0)):
    """The straight-line path of integrated gradients on a toy model with two inputs.

    The toy model ``f(x1, x2) = sigmoid(3·x1 + 2·x2 − 3)`` saturates: near the input ``x`` its gradient is
    almost zero although ``f(x) − f(baseline)`` is large. The figure shows f as filled contours, the path
    ``baseline + α·(x − baseline)``, ``n_points`` evenly spaced points on it and the gradient at each point
    (arrows): the gradients are large half-way and vanish at the end — IG averages them along the path.

    Returns:
        ``matplotlib.figure.Figure``. Taught in notebook 03.
    """
    from matplotlib.figure import Figure

    n_points = check_scalar(n_points, "n_points", int, min_val=2)
    x, x0 = np.asarray(x, dtype=float), np.asarray(baseline, dtype=float)
    if x.shape != (2,) or x0.shape != (2,):
        raise ValueError(f"x and baseline must be two numbers each, got {x.tolist()} and {x0.tolist()}")
    w, b = np.array([3.0, 2.0]), -3.0
    f = lambda p: 1.0 / (1.0 + np.exp(-(p @ w + b)))  # noqa: E731
    lo, hi = np.minimum(x, x0) - 0.5, np.maximum(x, x0) + 0.5
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    fig = Figure(figsize=(5.2, 3.8))
    ax = fig.subplots()
    cs = ax.contourf(g1, g2, f(np.stack([g1, g2], -1)), levels=np.linspace(0, 1, 11), cmap="Greys", alpha=0.6)
    fig.colorbar(cs, ax=ax, label="model output f(x)")
    alphas = np.linspace(0, 1, n_points)
    pts = x0 + alphas[:, None] * (x - x0)
    grads = (f(pts) * (1 - f(pts)))[:, None] * w  # df/dx at each point
    ax.plot(*np.stack([x0, x]).T, color="#b2182b", lw=2, label="path x' + α(x − x')")
    ax.quiver(
        pts[:, 0],
        pts[:, 1],
        grads[:, 0],
        grads[:, 1],
        color="#2166ac",
        angles="xy",
        scale_units="xy",
        scale=2.0,
        width=0.006,
        label="gradient ∂f/∂x",
    )
    ax.scatter(*pts.T, color="#b2182b", zorder=3, s=18)
    ax.annotate("baseline x'", x0, xytext=(6, -14), textcoords="offset points", fontsize=9)
    ax.annotate("input x", x, xytext=(6, 4), textcoords="offset points", fontsize=9)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.set_title("Integrated gradients walk the straight line from x' to x", fontsize=10)
    fig.set_layout_engine("tight")
    return fig


# ----------------------------------------------------------------------------------------- saving
def save(fig, path: str | Path, *, dpi: int = 150) -> tuple[Path, Path]:
    """Write ``fig`` as ``<path>.png`` and ``<path>.svg`` with the same bytes on every run.

    Deterministic: no dates or software versions in the metadata, a fixed SVG hash salt.

    Args:
        fig: a matplotlib Figure.
        path: file name without suffix (a ``.png``/``.svg`` suffix is dropped), e.g. ``"build/figures/heatmap"``;
            folders are created.
        dpi: resolution of the PNG.

    Returns:
        ``(png_path, svg_path)``. Taught in notebook 03.
    """
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or pathlib.Path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() in (".png", ".svg"):
        path = path.with_suffix("")
    return plotting.write_png_svg(fig, path, dpi=dpi, bbox_inches="tight", pad_inches=0.05)
