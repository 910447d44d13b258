"""course_utils.widgets: the explorer's plain callback, its HTML, its error messages, and the widget shell."""

from __future__ import annotations

import sys
import types

import pandas as pd
import pytest

from course_utils import widgets


@pytest.fixture(autouse=True)
def _html_display(monkeypatch):
    """Output.append_display_data formats with the process's IPython shell; IPython's *test* shell (started
    by other test modules, e.g. test_r_bridge) formats text/plain only, unlike Jupyter and Colab."""
    from IPython.core.interactiveshell import InteractiveShell

    if InteractiveShell.initialized():
        formatter = InteractiveShell.instance().display_formatter
        monkeypatch.setattr(formatter, "active_types", sorted({*formatter.active_types, "text/html"}))


TEXT = "We will cut taxes and strengthen our families."


@pytest.mark.parametrize("method,options", [("ig", {"n_steps": 4}), ("loo", {}), ("atman", {})])
def test_explain_for_widget_returns_panel_and_probabilities(tiny_classifier, method, options):
    tokenizer, model = tiny_classifier
    view = widgets.explain_for_widget(model, tokenizer, TEXT, method, **options)
    assert set(view.probabilities) == {"Democratic", "Republican"}
    assert sum(view.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert view.prediction == max(view.probabilities, key=view.probabilities.get)
    assert view.target == view.prediction  # default target: the predicted class
    assert "explaining-bert-prediction" in view.html and "explaining-bert-heatmap" in view.html
    assert set(view.table["method"]) == {method}
    assert view._repr_html_() == view.html


@pytest.mark.parametrize("label,method", [("AtMan", "atman"), ("Leave-one-out (LOO)", "loo")])
def test_explain_for_widget_accepts_menu_labels(tiny_classifier, label, method):
    tokenizer, model = tiny_classifier
    assert set(widgets.explain_for_widget(model, tokenizer, TEXT, label).table["method"]) == {method}


@pytest.mark.parametrize("target", ["Republican", 1])
def test_explain_for_widget_explains_the_chosen_target(tiny_classifier, target):
    tokenizer, model = tiny_classifier
    view = widgets.explain_for_widget(model, tokenizer, TEXT, "loo", target)
    assert view.target == "Republican"
    assert (view.table["target_label"] == "Republican").all()


def test_explain_for_widget_predicted_class_entry_means_none(tiny_classifier):
    tokenizer, model = tiny_classifier
    view = widgets.explain_for_widget(model, tokenizer, TEXT, "loo", widgets.PREDICTED)
    assert view.target == view.prediction


def test_explain_for_widget_word_level_draws_words(tiny_classifier):
    tokenizer, model = tiny_classifier
    view = widgets.explain_for_widget(model, tokenizer, "Unbelievably strengthening", "loo", level="word")
    assert "Unbelievably" in view.html and "##" not in view.html


def test_explain_for_widget_notes_truncation(tiny_classifier):
    tokenizer, model = tiny_classifier
    view = widgets.explain_for_widget(model, tokenizer, "word " * 40, "loo", max_length=16)
    assert view.notes and any("trunc" in n.lower() for n in view.notes)
    assert "<li>" in view.html


BAD_INPUTS = [
    ("", "ig", None, ValueError, "empty"),
    ("   \n ", "ig", None, ValueError, "empty"),
    (None, "ig", None, TypeError, "must be a string"),
    (TEXT, "gradcam", None, ValueError, "not offered"),
    (TEXT, "loo", "Green", ValueError, "Green"),
]


@pytest.mark.parametrize("text,method,target,error,match", BAD_INPUTS)
def test_explain_for_widget_bad_input_raises_clear_error(tiny_classifier, text, method, target, error, match):
    tokenizer, model = tiny_classifier
    with pytest.raises(error, match=match):
        widgets.explain_for_widget(model, tokenizer, text, method, target)


@pytest.mark.parametrize("text,method,target,error,match", BAD_INPUTS)
def test_render_explanation_bad_input_gives_message_not_traceback(
    tiny_classifier, text, method, target, error, match
):
    tokenizer, model = tiny_classifier
    page = widgets.render_explanation(model, tokenizer, text, method, target)
    assert "explaining-bert-error" in page and "Could not explain" in page
    assert error.__name__ in page and match in page
    assert "Traceback" not in page


def test_render_explanation_good_input_gives_panel(tiny_classifier):
    tokenizer, model = tiny_classifier
    page = widgets.render_explanation(model, tokenizer, TEXT, "loo")
    assert "explaining-bert-heatmap" in page and "explaining-bert-error" not in page


def test_render_explanation_escapes_html_in_messages(tiny_classifier):
    tokenizer, model = tiny_classifier
    page = widgets.render_explanation(model, tokenizer, TEXT, "<script>")
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_prediction_bar_html_draws_one_bar_per_class():
    page = widgets.prediction_bar_html({"Democratic": 0.25, "Republican": 0.75})
    assert page.count("width:25.0%") == 1 and page.count("width:75.0%") == 1
    assert "0.75" in page and "0.25" in page


def test_prediction_bar_html_highlights_the_target():
    page = widgets.prediction_bar_html({"Democratic": 0.25, "Republican": 0.75}, highlight="Democratic")
    bold_label = page.split("font-weight:bold;")[1]
    assert bold_label.startswith('">Democratic')


@pytest.mark.parametrize(
    "probabilities,error,match",
    [
        ({}, TypeError, "non-empty mapping"),
        ([0.5, 0.5], TypeError, "non-empty mapping"),
        ({"a": 1.5}, ValueError, r"\[0, 1\]"),
        ({"a": -0.1}, ValueError, r"\[0, 1\]"),
    ],
)
def test_prediction_bar_html_bad_input(probabilities, error, match):
    with pytest.raises(error, match=match):
        widgets.prediction_bar_html(probabilities)


def test_examples_from_frame_describes_rows():
    df = pd.DataFrame(
        {
            "text": [f"paragraph number {i} with several words in it for the menu" for i in range(20)],
            "president": "A. Person",
            "year": 2000,
            "party": "Democratic",
        }
    )
    out = widgets.examples_from(df, n=5, seed=1)
    assert len(out) == 5 and set(out.values()) <= set(df["text"])
    assert all("A. Person, 2000, Democratic:" in k for k in out)
    assert out == widgets.examples_from(df, n=5, seed=1)  # deterministic


def test_examples_from_list_and_dict():
    texts = [f"text {i}" for i in range(3)]
    assert list(widgets.examples_from(texts).values()) == texts
    assert widgets.examples_from({"mine": "my text"}) == {"mine": "my text"}
    assert len(widgets.examples_from([f"t {i}" for i in range(30)], n=4)) == 4


@pytest.mark.parametrize(
    "data,error,match",
    [
        (42, TypeError, "DataFrame, a list"),
        ("one text", TypeError, "DataFrame, a list"),
        ([], ValueError, "empty"),
        (pd.DataFrame({"body": ["x"]}), ValueError, "no column 'text'"),
    ],
)
def test_examples_from_bad_input(data, error, match):
    with pytest.raises(error, match=match):
        widgets.examples_from(data)


def test_enable_colab_widgets_outside_colab_is_false(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert widgets.enable_colab_widgets() is False


def test_enable_colab_widgets_in_colab_enables_manager(monkeypatch):
    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    colab = types.ModuleType("google.colab")
    colab.output = output
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert widgets.enable_colab_widgets() is True and calls == [1]


def _parts(box):
    menu, textbox, method, row, out = box.children
    target, button = row.children
    return menu, textbox, method, target, button, out


def test_explorer_builds_widgets_and_waits_for_a_click(tiny_classifier):
    tokenizer, model = tiny_classifier
    box = widgets.explorer(model, tokenizer, {"first": TEXT, "second": "Another paragraph."})
    menu, textbox, method, target, button, out = _parts(box)
    assert textbox.value == TEXT and method.value == "ig" and target.value == widgets.PREDICTED
    assert target.label == widgets.PREDICTED  # shown, not an empty box (a None value is "no selection")
    assert out.outputs == ()  # nothing computed before the click
    menu.value = "second"
    assert textbox.value == "Another paragraph."


def test_explorer_click_shows_heatmap(tiny_classifier):
    tokenizer, model = tiny_classifier
    box = widgets.explorer(model, tokenizer, [TEXT])
    menu, textbox, method, target, button, out = _parts(box)
    method.value, target.value = "loo", "Republican"
    box.explain()
    (shown,) = out.outputs
    assert "explaining-bert-heatmap" in shown["data"]["text/html"]
    assert not button.disabled and button.description == "Explain"


def test_explorer_click_on_empty_text_shows_message(tiny_classifier):
    tokenizer, model = tiny_classifier
    box = widgets.explorer(model, tokenizer)
    menu, textbox, method, target, button, out = _parts(box)
    assert menu.disabled and textbox.value == ""
    box.explain()
    (shown,) = out.outputs
    page = shown["data"]["text/html"]
    assert "text is empty" in page and "Traceback" not in page
    assert out.outputs[0]["output_type"] == "display_data"
    textbox.value = TEXT  # a second click replaces the message
    box.explain()
    assert len(out.outputs) == 1 and "explaining-bert-heatmap" in out.outputs[0]["data"]["text/html"]


def test_explorer_passes_each_method_its_options(tiny_classifier):
    tokenizer, model = tiny_classifier
    box = widgets.explorer(
        model, tokenizer, [TEXT], options={"ig": {"n_steps": 2}, "atman": {"multiplier": 0.5}}
    )
    menu, textbox, method, target, button, out = _parts(box)
    for name in ("ig", "loo", "atman"):  # LOO must not receive IG's n_steps
        method.value = name
        box.explain()
        assert "explaining-bert-heatmap" in out.outputs[0]["data"]["text/html"], name
    box = widgets.explorer(model, tokenizer, [TEXT], options={"ig": {"n_steps": "many"}})
    box.explain()
    assert "explaining-bert-error" in box.children[-1].outputs[0]["data"]["text/html"]


def test_explorer_rejects_options_for_unknown_methods(tiny_classifier):
    tokenizer, model = tiny_classifier
    with pytest.raises(ValueError, match="unknown method"):
        widgets.explorer(model, tokenizer, [TEXT], options={"gradcam": {}})


def test_explorer_offers_shap_and_lime_with_small_budgets(tiny_classifier):
    from course_utils import widgets

    tokenizer, model = tiny_classifier
    assert {"shap", "lime"} <= set(widgets.METHODS.values())
    assert set(widgets.DEFAULT_OPTIONS) <= set(widgets.METHODS.values())
    for method in ("shap", "lime"):
        result = widgets.explain_for_widget(
            model, tokenizer, "Taxes must be cut now.", method, **widgets.DEFAULT_OPTIONS[method]
        )
        assert (result.table["method"] == method).all() and result.table["score"].abs().sum() > 0
