"""An interactive explorer: type or pick a paragraph, choose a method and a class, see the heat map.

Taught in notebook 07 (challenges and opportunities)::

    from course_utils import widgets
    widgets.explorer(model, tokenizer, examples=test)        # test: a load_sotu() frame, or {name: text}

The explorer is a thin ipywidgets shell around one plain function, :func:`render_explanation`, which
returns an HTML string and never raises: bad input (an empty text box, an unknown method …) becomes a
message in the widget instead of a traceback. The work itself is done by :func:`explain_for_widget`,
which raises clear errors and is what the tests and the notebook call without any widget.

The HTML uses inline CSS only (no JavaScript), so the heat map renders in Jupyter, JupyterLab, VS Code and
Colab. ipywidgets 8 needs Colab's custom widget manager; :func:`explorer` switches it on when it runs in
Colab (:func:`enable_colab_widgets`).
"""

from __future__ import annotations

import html as _html
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: the methods the explorer offers: menu label -> name in course_utils.attribution.explain
METHODS: dict[str, str] = {
    "Integrated gradients (IG)": "ig",
    "Leave-one-out (LOO)": "loo",
    "AtMan": "atman",
    "SHAP": "shap",
    "LIME": "lime",
}
#: smaller budgets than the methods' defaults for the two sampling methods, so a click answers in seconds
#: on a CPU (SHAP: ~2 s instead of ~7 s, LIME ~4 s instead of ~13 s per paragraph); ``options`` overrides them
DEFAULT_OPTIONS: dict[str, dict] = {"shap": {"max_evals": 200}, "lime": {"num_samples": 300}}
PREDICTED = "predicted class"  # the target menu entry that explains each text's own prediction
MAX_LENGTH = 128  # tokens the explorer explains (longer texts are truncated, with a note)
PREVIEW_WORDS = 8  # words of a paragraph shown in the examples menu

__all__ = [
    "METHODS",
    "DEFAULT_OPTIONS",
    "ExplorerView",
    "explain_for_widget",
    "render_explanation",
    "prediction_bar_html",
    "error_html",
    "examples_from",
    "enable_colab_widgets",
    "explorer",
]


@dataclass
class ExplorerView:
    """What the explorer shows for one text: the heat map and the prediction bar.

    Attributes:
        html: the whole panel (prediction bar + heat map + notes) as one inline-CSS HTML string.
        probabilities: label -> the model's probability for that class on the text (sums to 1).
        prediction: the predicted label; target: the label explained.
        table: the tidy token table of :func:`course_utils.attribution.explain` (its result's ``.tokens``).
        notes: warnings raised while explaining (e.g. "text truncated"), also shown in ``html``.
    """

    html: str
    probabilities: dict[str, float]
    prediction: str
    target: str
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return self.html


# ------------------------------------------------------------------------------------------- checks
def _check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a string (the paragraph to explain), got {type(text).__name__}")
    if not text.strip():
        raise ValueError(
            "the text is empty: type a paragraph in the text box or pick an example from the menu"
        )
    return text.strip()


def _check_method(method) -> str:
    """A method name (``"ig"``) or its menu label (``"AtMan"``) -> the name ``explain`` takes."""
    names = {**{v: v for v in METHODS.values()}, **METHODS}
    if not isinstance(method, str) or method not in names:
        raise ValueError(
            f"method={method!r} is not offered by the explorer; choose one of {list(METHODS.values())}"
        )
    return names[method]


def _labels(model) -> list[str]:
    id2label = getattr(model.config, "id2label", None) or {}
    return [str(id2label.get(i, i)) for i in range(model.config.num_labels)]


# ----------------------------------------------------------------------------------------------- HTML
def prediction_bar_html(probabilities: Mapping[str, float], *, highlight: str | None = None) -> str:
    """A horizontal bar per class with its probability, as inline-CSS HTML.

    Args:
        probabilities: label -> probability (numbers in [0, 1]).
        highlight: the label drawn darker and bold (the explained target); default the most probable one.

    Returns:
        HTML string. The bars are grey on purpose: red/blue are reserved for support/opposition in the
        heat map, not for parties. Taught in notebook 07.
    """
    if not isinstance(probabilities, Mapping) or not probabilities:
        raise TypeError(
            f"probabilities must be a non-empty mapping {{label: probability}}, got {probabilities!r}"
        )
    values = {str(k): float(v) for k, v in probabilities.items()}
    bad = {k: v for k, v in values.items() if not (0.0 <= v <= 1.0)}
    if bad:
        raise ValueError(f"probabilities must lie in [0, 1], got {bad}")
    highlight = max(values, key=values.get) if highlight is None else str(highlight)
    rows = []
    for label, p in values.items():
        strong = label == highlight
        colour = "#444444" if strong else "#aaaaaa"
        weight = "bold" if strong else "normal"
        rows.append(
            '<div style="display:flex;align-items:center;margin:0.15em 0;">'
            f'<span style="width:9em;font-weight:{weight};">{_html.escape(label)}</span>'
            '<span style="display:inline-block;width:16em;height:0.9em;background-color:#eeeeee;">'
            f'<span style="display:block;width:{100 * p:.1f}%;height:100%;background-color:{colour};"></span></span>'
            f'<span style="margin-left:0.5em;font-weight:{weight};">{p:.2f}</span></div>'
        )
    return (
        '<div class="explaining-bert-prediction" style="font-family:Helvetica,Arial,sans-serif;font-size:14px;'
        'color:#000000;margin-bottom:0.4em;"><div style="font-size:0.85em;color:#333333;">'
        "the model's probabilities</div>" + "".join(rows) + "</div>"
    )


def error_html(message: str) -> str:
    """A short, visible message box (used instead of a traceback inside the widget)."""
    return (
        '<div class="explaining-bert-error" style="font-family:Helvetica,Arial,sans-serif;font-size:14px;'
        'color:#7a1f1f;background-color:#fff3f3;border:1px solid #e0b4b4;padding:0.5em 0.7em;">'
        f"<b>Could not explain this text.</b> {_html.escape(str(message))}</div>"
    )


def _notes_html(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{_html.escape(n)}</li>" for n in notes)
    return f'<ul style="font-size:0.8em;color:#555555;margin:0.3em 0;">{items}</ul>'


# ------------------------------------------------------------------------------------- the callback
def explain_for_widget(
    model,
    tokenizer,
    text: str,
    method: str = "ig",
    target=None,
    *,
    level: str = "token",
    max_length: int | None = None,
    **options,
) -> ExplorerView:
    """Explain one text the way the explorer shows it: prediction bar + heat map (the widget's callback).

    Args:
        model, tokenizer: a fine-tuned classifier and its tokenizer (e.g. ``load_classifier()``).
        text: the paragraph (leading/trailing spaces are ignored).
        method: ``"ig"``, ``"loo"``, ``"atman"``, ``"shap"`` or ``"lime"``, or the menu labels of :data:`METHODS`.
        target: None or ``"predicted class"`` (explain the prediction), a label name or a class index.
        level: heat map of ``"token"`` (WordPieces) or ``"word"`` (scores summed per word).
        max_length: tokens explained (default :data:`MAX_LENGTH`, or the model's limit when smaller);
            longer texts are cut, and the panel says so.
        **options: the method's options (e.g. ``n_steps=16`` for IG, ``multiplier=0.1`` for AtMan).

    Returns:
        :class:`ExplorerView`.

    Raises:
        TypeError / ValueError: empty or non-string text, unknown method, target or level (clear messages).
        Taught in notebook 07.
    """
    from . import viz
    from .attribution import explain
    from .models import predict_proba

    text = _check_text(text)
    method = _check_method(method)
    if target == PREDICTED:
        target = None
    labels = _labels(model)
    if max_length is None:
        max_length = min(MAX_LENGTH, int(getattr(model.config, "max_position_embeddings", MAX_LENGTH)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = explain(
            model, tokenizer, [text], method, target, progress=False, max_length=max_length, **options
        ).tokens
        html_map = viz.heatmap_html(table, level=level)
    notes = [str(w.message) for w in caught]
    proba = predict_proba(model, tokenizer, [text], max_length=max_length)[0]  # (n_labels,)
    probabilities = {lab: float(p) for lab, p in zip(labels, proba)}
    first = table.iloc[0]
    target_label, prediction = str(first["target_label"]), str(first["prediction"])
    panel = (
        '<div class="explaining-bert-explorer">'
        + prediction_bar_html(probabilities, highlight=target_label)
        + html_map
        + _notes_html(notes)
        + "</div>"
    )
    return ExplorerView(panel, probabilities, prediction, target_label, table, notes)


def render_explanation(model, tokenizer, text, method="ig", target=None, **kwargs) -> str:
    """:func:`explain_for_widget` as HTML that never raises: an error becomes a message box.

    Returns:
        the panel's HTML, or :func:`error_html` with the error's message (no traceback). Taught in notebook 07.
    """
    try:
        return explain_for_widget(model, tokenizer, text, method, target, **kwargs).html
    except KeyboardInterrupt:
        return error_html("interrupted.")
    except Exception as exc:  # the widget must show every failure as a message, never a traceback
        return error_html(f"{type(exc).__name__}: {exc}")


# ------------------------------------------------------------------------------------------ examples
def examples_from(data, n: int = 8, *, seed: int = 42, text_column: str = "text") -> dict[str, str]:
    """Menu entries for the explorer: a short description -> the paragraph.

    Args:
        data: a ``load_sotu()``-style DataFrame (``president``, ``year``, ``party`` columns are used in the
            description when present), a sequence of strings, or a mapping ``{name: text}`` (returned as is).
        n: how many examples (a seeded random sample when ``data`` has more rows).
        seed: the sample's seed; text_column: the column with the paragraphs.

    Returns:
        dict in a stable order. Taught in notebook 07.
    """
    if isinstance(data, Mapping):
        out = {str(k): str(v) for k, v in data.items()}
    elif isinstance(data, pd.DataFrame):
        if text_column not in data.columns:
            raise ValueError(f"data has no column {text_column!r}; its columns are {list(data.columns)}")
        rows = data.sample(min(n, len(data)), random_state=seed) if len(data) > n else data
        out = {}
        for i, (_, row) in enumerate(rows.iterrows()):
            words = str(row[text_column]).split()
            preview = " ".join(words[:PREVIEW_WORDS]) + (" …" if len(words) > PREVIEW_WORDS else "")
            who = ", ".join(str(row[c]) for c in ("president", "year", "party") if c in row.index)
            out[f"{i + 1}. {who + ': ' if who else ''}{preview}"] = str(row[text_column])
    elif isinstance(data, Sequence) and not isinstance(data, str):
        texts = [str(t) for t in data]
        if len(texts) > n:
            idx = np.random.default_rng(seed).choice(len(texts), n, replace=False)
            texts = [texts[i] for i in sorted(idx)]
        out = {f"{i + 1}. {' '.join(t.split()[:PREVIEW_WORDS])}": t for i, t in enumerate(texts)}
    else:
        raise TypeError(
            f"data must be a DataFrame, a list of texts or a dict {{name: text}}, got {type(data).__name__}"
        )
    if not out:
        raise ValueError("no examples: data is empty")
    return out


# --------------------------------------------------------------------------------------- the widget
def enable_colab_widgets() -> bool:
    """Switch on Colab's custom widget manager (needed for ipywidgets 8); True when it was switched on.

    Does nothing (returns False) outside Colab or when the call is unavailable.
    """
    if "google.colab" not in sys.modules:
        return False
    try:
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()
        return True
    except Exception:
        return False


def explorer(
    model,
    tokenizer,
    examples=None,
    *,
    level: str = "token",
    max_length: int | None = None,
    options: Mapping[str, Mapping] | None = None,
):
    """The interactive explorer: examples menu, text box, method and class selectors, a button, the result.

    Args:
        model, tokenizer: the classifier to explore.
        examples: menu entries (see :func:`examples_from`: a DataFrame, list of texts or ``{name: text}``);
            None leaves only the text box.
        level, max_length: passed to :func:`explain_for_widget` on every click.
        options: each method's options, e.g. ``{"ig": {"n_steps": 16}, "atman": {"multiplier": 0.1}}``
            (methods not named use their defaults; SHAP and LIME start from :data:`DEFAULT_OPTIONS`).

    Returns:
        an ``ipywidgets.VBox``; display it (a bare expression at the end of a cell). Nothing is computed
        until the button is clicked. The click handler is ``box.explain`` (call it to update without a click).
        Taught in notebook 07.
    """
    import ipywidgets as w
    from IPython.display import HTML

    options = dict(options or {})
    unknown = sorted(set(options) - set(METHODS.values()))
    if unknown:
        raise ValueError(
            f"options for unknown method(s) {unknown}; the explorer offers {list(METHODS.values())}"
        )
    enable_colab_widgets()
    choices = examples_from(examples) if examples is not None else {}
    first = next(iter(choices.values()), "")
    menu = w.Dropdown(
        options=list(choices), description="Example", layout=w.Layout(width="95%"), disabled=not choices
    )
    textbox = w.Textarea(
        value=first,
        placeholder="Type or paste a paragraph …",
        description="Text",
        layout=w.Layout(width="95%", height="7em"),
    )
    method = w.ToggleButtons(options=list(METHODS.items()), value="ig", description="Method")
    # the value is the label itself: ipywidgets 8 shows a Dropdown whose value is None as empty
    target = w.Dropdown(
        options=[(PREDICTED, PREDICTED)] + [(lab, lab) for lab in _labels(model)],
        value=PREDICTED,
        description="Explain",
    )
    button = w.Button(description="Explain", button_style="primary", icon="search")
    out = w.Output(layout=w.Layout(border="1px solid #dddddd", padding="0.3em", min_height="4em"))

    def on_pick(change):
        if change.get("new") in choices:
            textbox.value = choices[change["new"]]

    def on_click(_=None):
        button.disabled, button.description = True, "Working …"
        try:
            page = render_explanation(
                model,
                tokenizer,
                textbox.value,
                method.value,
                target.value,
                level=level,
                max_length=max_length,
                **{**DEFAULT_OPTIONS.get(method.value, {}), **options.get(method.value, {})},
            )
            out.outputs = ()  # replace the previous result (works with and without a running kernel)
            out.append_display_data(HTML(page))
        finally:
            button.disabled, button.description = False, "Explain"

    menu.observe(on_pick, names="value")
    button.on_click(on_click)
    box = w.VBox([menu, textbox, method, w.HBox([target, button]), out])
    box.explain = on_click
    return box
