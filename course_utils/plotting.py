"""The library's matplotlib plumbing: the colour-blind-safe palette, reproducible PNG/SVG files, and showing a
bare ``Figure`` in Jupyter.

Every plotting function of the package (``viz``, ``corpus``, ``influence``, the course's lesson figures in
``course_utils.course.figures``) takes its colours from :data:`OKABE_ITO` and writes files through
:func:`write_png_svg`. Figures are built as ``matplotlib.figure.Figure`` objects without pyplot: no global
state, no backend needed, nothing to close.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["OKABE_ITO", "PNG_DPI", "SVG_SALT", "enable_notebook_display", "write_png_svg"]

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
PNG_DPI = 150
SVG_SALT = "explaining-bert"


def enable_notebook_display() -> None:
    """Let Jupyter/Colab show a bare ``Figure`` as an image (pyplot would do this, but we do not use pyplot).

    Registers a PNG formatter for figures in the running IPython shell; does nothing outside IPython or when
    IPython is not installed. Safe to call more than once. ``course_utils.viz`` and the course's figure module
    call it when they are imported, so a cell that ends with a figure shows it.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "display_formatter", None) is not None:
        select_figure_formats(shell, {"png"})


def write_png_svg(fig: Figure, stem: Path, *, dpi: int = PNG_DPI, **style) -> tuple[Path, Path]:  # noqa: F821
    """Write ``<stem>.png`` and ``<stem>.svg`` without dates or versions and with a fixed SVG hash salt.

    The one place that makes the course's figure files reproducible (``viz.save`` and the course's
    ``save_figure`` use it); ``style`` goes to ``Figure.savefig`` (e.g. ``bbox_inches="tight"``). Folders are
    created.
    """
    import matplotlib

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.svg"
    style = {"facecolor": "white", **style}
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}):
        fig.savefig(png, dpi=dpi, metadata={"Software": None}, **style)
        fig.savefig(svg, metadata={"Date": None, "Creator": None}, **style)
    return png, svg
