"""Tests for course_utils.viz: HTML heat maps (escaping, colours, sign marks), figures and deterministic saving."""

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from course_utils import viz


def make_table(
    tokens, scores, doc_id=0, method="ig", target_label="Republican", prediction="Democratic", probability=0.7
) -> pd.DataFrame:
    """A tidy attribution table as ``explain`` returns it, with word ids from the ``##`` continuation marks."""
    word_ids, words, w = [], [], -1
    for tok in tokens:
        if tok in ("[CLS]", "[SEP]"):
            word_ids.append(-1)
            continue
        w += 0 if tok.startswith("##") else 1
        word_ids.append(w)
    pieces: dict[int, str] = {}
    for tok, wid in zip(tokens, word_ids):
        if wid >= 0:
            pieces[wid] = pieces.get(wid, "") + tok.removeprefix("##")
    words = [pieces[wid] if wid >= 0 else tok for tok, wid in zip(tokens, word_ids)]
    return pd.DataFrame(
        {
            "doc_id": doc_id,
            "position": range(len(tokens)),
            "token": tokens,
            "word_id": word_ids,
            "word": words,
            "score": np.asarray(scores, dtype=float),
            "method": method,
            "target": 1,
            "target_label": target_label,
            "prediction": prediction,
            "probability": probability,
            "special": [wid < 0 for wid in word_ids],
        }
    )


TOKENS = ["[CLS]", "cut", "tax", "##es", "now", "[SEP]"]
SCORES = [0.0, 0.5, -0.4, 0.1, 0.01, 0.0]


@pytest.fixture
def table():
    return make_table(TOKENS, SCORES)


def spans(html: str) -> dict[str, str]:
    """``{token text: style}`` of the token boxes (the spans with a title)."""
    return {
        text: style for style, text in re.findall(r'<span style="([^"]*)" title="[^"]*">([^<]*)</span>', html)
    }


# ------------------------------------------------------------------------------------------- colours
@pytest.mark.parametrize("score", [0.2, 0.5, 1.0, 3.0])
def test_score_color_red_supports_blue_opposes(score):
    red, _, blue = to_rgb(viz.score_color(score, 1.0))
    assert red > blue
    red, _, blue = to_rgb(viz.score_color(-score, 1.0))
    assert blue > red


def test_score_color_zero_is_near_white_and_scale_is_symmetric():
    assert min(to_rgb(viz.score_color(0.0, 1.0))) > 0.9
    for s in (0.25, 0.75):
        pos, neg = np.array(to_rgb(viz.score_color(s, 1.0))), np.array(to_rgb(viz.score_color(-s, 1.0)))
        # same distance from white on both sides of zero: a symmetric diverging scale
        assert abs(np.linalg.norm(1 - pos) - np.linalg.norm(1 - neg)) < 0.15
    assert viz.score_color(5.0, 1.0) == viz.score_color(1.0, 1.0)  # clipped at the end colour


# ---------------------------------------------------------------------------------------------- HTML
def test_heatmap_html_escapes_tokens():
    t = make_table(["[CLS]", "<script>alert(1)</script>", "&", "[SEP]"], [0, 0.3, -0.2, 0])
    html = viz.heatmap_html(t)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&amp;" in html


def test_heatmap_html_has_no_javascript_or_remote_resources(table):
    html = viz.heatmap_html(table).lower()
    assert not any(
        s in html for s in ("<script", "javascript:", "http://", "https://", "<link", "@import", "<style")
    )


def test_heatmap_html_colour_and_sign_marks_follow_the_score(table):
    style = spans(viz.heatmap_html(table))
    assert "font-weight:bold" in style["cut"] and "underline solid" in style["cut"]  # supports
    assert "underline dotted" in style["tax"] and "bold" not in style["tax"]  # opposes
    assert "underline" not in style["now"]  # near zero: no mark
    colour = lambda s: to_rgb(re.search(r"background-color:(#[0-9a-f]{6})", s).group(1))  # noqa: E731
    assert colour(style["cut"])[0] > colour(style["cut"])[2]
    assert colour(style["tax"])[2] > colour(style["tax"])[0]


def test_heatmap_html_legend_names_target_prediction_and_probability(table):
    html = viz.heatmap_html(table)
    assert "supports Republican" in html and "opposes Republican" in html
    assert "target <b>Republican</b> (p = 0.70)" in html and "prediction <b>Democratic</b>" in html


def test_heatmap_html_word_level_joins_wordpieces_and_sums_scores(table):
    units = viz.document_scores(table, 0, "word")
    assert list(units["text"]) == ["cut", "taxes", "now"]
    assert units["score"].tolist() == pytest.approx([0.5, -0.3, 0.01])
    html = viz.heatmap_html(table, level="word")
    assert ">taxes<" in html and "##es" not in html and "[CLS]" not in html


def test_heatmap_html_token_level_keeps_special_tokens_by_default(table):
    assert "[CLS]" in viz.heatmap_html(table)
    assert "[CLS]" not in viz.heatmap_html(table, special=False)


def test_heatmap_html_several_methods_one_at_a_time(table):
    both = pd.concat([table, table.assign(method="loo", score=-table["score"])])
    with pytest.raises(ValueError, match="several methods"):
        viz.heatmap_html(both)
    ig, loo = spans(viz.heatmap_html(both, method="ig")), spans(viz.heatmap_html(both, method="loo"))
    assert "underline solid" in ig["cut"] and "underline dotted" in loo["cut"]


def test_heatmap_html_documents_share_one_scale(table):
    two = pd.concat([table, make_table(TOKENS, np.asarray(SCORES) / 10, doc_id=1)])
    html = viz.heatmap_html(two)
    assert html.count("document <b>") == 2
    # on the shared scale, doc 1's strongest token is faint; drawn alone it is at full colour
    shared = spans(viz.heatmap_html(two))  # both documents; the dict keeps the last one (doc 1)
    alone = spans(viz.heatmap_html(two, doc_id=1, vmax=0.05))
    assert shared["cut"] != alone["cut"]
    assert shared["cut"] == spans(viz.heatmap_html(two, doc_id=1, vmax=0.5))["cut"]
    assert viz.heatmap_html(two, doc_id=[1]) == viz.heatmap_html(two.query("doc_id == 1"))


def test_show_heatmap_displays_html(table, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert viz.show_heatmap(table) is None
    assert "explaining-bert-heatmap" in shown[0].data


def test_save_html_writes_a_standalone_page(table, tmp_path):
    path = viz.save_html(table, tmp_path / "maps" / "doc0", title="Doc <0>")
    assert path.suffix == ".html" and path.is_file()
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<title>Doc &lt;0&gt;</title>" in page and "explaining-bert-heatmap" in page


BAD_INPUTS = [
    ({"table": [1, 2]}, TypeError, "table must be a pandas DataFrame"),
    ({"table": pd.DataFrame({"token": ["a"]})}, ValueError, "missing the column"),
    ({"table": make_table(TOKENS, SCORES).iloc[:0]}, ValueError, "table is empty"),
    ({"level": "sentence"}, ValueError, r"level='sentence' is not supported; choose one of \['token'"),
    ({"doc_id": 7}, ValueError, r"doc_id \[7\] not in the table"),
    ({"vmax": -1.0}, ValueError, "vmax=-1.0 is too small: use a number > 0"),
    ({"vmax": "big"}, TypeError, "vmax must be a number > 0 or None, got str"),
    ({"method": "atman"}, ValueError, "method 'atman' is not in the table"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_INPUTS)
def test_heatmap_html_bad_input(table, kwargs, error, message):
    kwargs = {"table": table} | kwargs
    with pytest.raises(error, match=message):
        viz.heatmap_html(**kwargs)


# ------------------------------------------------------------------------------------------- figures
def test_heatmap_figure_save_writes_png_and_svg_deterministically(table, tmp_path):
    fig = viz.heatmap_figure(table, 0)
    assert isinstance(fig, Figure)
    png, svg = viz.save(fig, tmp_path / "figures" / "heatmap")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and svg.read_text().lstrip().startswith("<?xml")
    first = png.read_bytes(), svg.read_bytes()
    viz.save(viz.heatmap_figure(table, 0), tmp_path / "figures" / "heatmap.png")
    assert (png.read_bytes(), svg.read_bytes()) == first


def test_heatmap_figure_wraps_long_texts_over_lines():
    short = viz.heatmap_figure(make_table(["[CLS]", "a", "[SEP]"], [0, 1, 0]))
    long = viz.heatmap_figure(make_table(["[CLS]"] + ["government"] * 40 + ["[SEP]"], np.linspace(-1, 1, 42)))
    assert long.get_figheight() > short.get_figheight() + 1.0


def test_heatmap_figure_needs_one_document(table):
    two = pd.concat([table, table.assign(doc_id=1)])
    with pytest.raises(ValueError, match="holds 2 documents"):
        viz.heatmap_figure(two)
    assert isinstance(viz.heatmap_figure(two, doc_id=1, level="word"), Figure)


def test_compare_methods_figure_one_row_per_method(table, tmp_path):
    tables = {"IG": table, "LOO": table.assign(method="loo", score=-table["score"] * 3)}
    fig = viz.compare_methods_figure(tables, 0)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "IG" in labels and "LOO" in labels
    png, svg = viz.save(fig, tmp_path / "compare")
    assert png.is_file() and svg.is_file()


def test_compare_methods_figure_rejects_different_tokens(table):
    other = make_table(["[CLS]", "raise", "tax", "##es", "now", "[SEP]"], SCORES, method="loo")
    with pytest.raises(ValueError, match="other tokens"):
        viz.compare_methods_figure({"IG": table, "LOO": other}, 0)
    with pytest.raises(TypeError, match="non-empty dict"):
        viz.compare_methods_figure([table], 0)


def test_compare_methods_figure_shared_scale_keeps_units(table):
    tables = {"[PAD]": table, "zero": table.assign(score=table["score"] / 10)}
    fig = viz.compare_methods_figure(tables, 0, scale="shared")
    faint = [p.get_facecolor() for p in fig.axes[0].patches]
    n = len(TOKENS)
    # the second row's strongest token is drawn fainter than the first row's on a shared scale
    assert min(faint[n + 1][:3]) > min(faint[1][:3])
    with pytest.raises(ValueError, match="scale must be"):
        viz.compare_methods_figure(tables, 0, scale="log")


def test_completeness_figure_one_line_pair_per_rule():
    errors = pd.DataFrame(
        {
            "quadrature": ["gauss_legendre"] * 4 + ["riemann_trapezoid"] * 4,
            "n_steps": [8, 8, 16, 16] * 2,
            "relative_error": [0.3, 0.1, 1e-3, 1e-4, 0.2, 0.1, 0.05, 0.01],
        }
    )
    fig = viz.completeness_figure(errors)
    assert len(fig.axes[0].get_lines()) == 5  # median + worst per rule, and the tolerance line
    with pytest.raises(ValueError, match="missing the column"):
        viz.completeness_figure(errors.drop(columns="n_steps"))


def test_heatmaps_of_explain_tables_for_several_methods():
    """Real explain() tables (tiny random BERT, packaged vocabulary) for each method draw without error."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from course_utils import attribution, models

    tokenizer = AutoTokenizer.from_pretrained(models.model_source(None))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        num_labels=2,
        id2label={0: "Democratic", 1: "Republican"},
        label2id={"Democratic": 0, "Republican": 1},
    )
    model = BertForSequenceClassification(config).eval()
    texts = ["Taxpayers deserve <b>better</b> schools.", "We will defend freedom."]
    tables = {
        m: attribution.explain(model, tokenizer, texts, method=m, **({"n_steps": 8} if m == "ig" else {}))
        for m in ("ig", "loo")
    }
    for t in tables.values():
        html = viz.heatmap_html(t, level="word")
        assert "&lt;b&gt;better&lt;/b&gt;" in html or "better" in html
        assert "<b>better" not in html and html.count("document <b>") == 2
    assert isinstance(viz.compare_methods_figure(tables, 1), Figure)


def test_ig_path_figure_and_bad_points():
    assert isinstance(viz.ig_path_figure(n_points=5), Figure)
    with pytest.raises(ValueError, match="n_points=1 is too small: use an integer ≥ 2"):
        viz.ig_path_figure(n_points=1)


def test_save_bad_input(tmp_path):
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        viz.save("not a figure", tmp_path / "x")
