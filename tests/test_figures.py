"""Tests for course_utils.figures: the committed illustrations build, are reproducible, and plots draw."""

import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from transformers import AutoTokenizer, BertConfig, BertModel

from course_utils import embeddings as E
from course_utils import figures
from course_utils.models import PACKAGED, model_source


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(model_source(PACKAGED))


@pytest.fixture(scope="module")
def tiny_bert(tokenizer):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64, attn_implementation="eager")
    return BertModel(config).eval()


def test_build_all_writes_png_and_svg(tmp_path):
    written = figures.build_all(tmp_path)
    assert len(written) == 2 * len(figures.COMMITTED)
    for name in figures.COMMITTED:
        png, svg = tmp_path / f"{name}.png", tmp_path / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert svg.read_text().lstrip().startswith("<?xml") and svg.stat().st_size > 10_000


def test_build_all_is_deterministic(tmp_path):
    first, second = figures.build_all(tmp_path / "a"), figures.build_all(tmp_path / "b")
    for a, b in zip(first, second):
        assert a.name == b.name and a.read_bytes() == b.read_bytes(), a.name
    assert "<dc:date>" not in first[1].read_text()


def test_build_all_selected_names(tmp_path):
    written = figures.build_all(tmp_path, names=["bert_input_embeddings"])
    assert sorted(p.name for p in written) == ["bert_input_embeddings.png", "bert_input_embeddings.svg"]


def test_build_all_unknown_name_raises(tmp_path):
    with pytest.raises(ValueError, match="unknown figure"):
        figures.build_all(tmp_path, names=["nope"])


def test_bert_input_diagram_saves_when_asked(tmp_path, tokenizer):
    fig = figures.bert_input_diagram("The union is strong.", None, tokenizer=tokenizer, out_dir=tmp_path, name="one")
    assert isinstance(fig, Figure)
    assert (tmp_path / "one.png").stat().st_size > 0 and (tmp_path / "one.svg").stat().st_size > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text_a": "word " * 30}, "more than max_tokens=24"),
        ({"text_a": ""}, "text_a=''"),
        ({"text_b": 3}, "text_b=3"),
    ],
)
def test_bert_input_diagram_bad_input(tokenizer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        figures.bert_input_diagram(**({"text_a": "A", "text_b": "B"} | kwargs), tokenizer=tokenizer)


def test_save_figure_bad_name_raises(tmp_path):
    with pytest.raises(ValueError, match="use letters"):
        figures.save_figure(Figure(), "../escape", tmp_path)


@pytest.mark.parametrize(
    ("token", "expected"),
    [("state", r"$E_{\mathrm{state}}$"), ("##ing", r"$E_{\#\#\mathrm{ing}}$"), ("[CLS]", r"$E_{\mathrm{[CLS]}}$"), ("{", "E({)")],
)
def test_subscript_escapes_wordpieces(token, expected):
    assert figures._subscript("E", token) == expected


def test_notebook_plots_return_figures(tiny_bert, tokenizer):
    comp = E.embedding_components(tiny_bert, tokenizer, [("The union is strong.", "Congress acts."), ("Short.", "Pair.")])
    amap = E.attention_map(tiny_bert, tokenizer, "The union is strong.", 0, 1)
    drawn = [
        figures.component_heatmaps(comp, index=1, n_dims=8),
        figures.component_norms_plot(comp.norms(0)),
        figures.similarity_grid({"bank": np.eye(2)}, {"bank": ["a", "b"]}),
        figures.attention_heatmap(amap),
        figures.head_summary_heatmap(E.head_summary(tiny_bert, tokenizer, "The union is strong.")),
    ]
    for fig in drawn:
        assert isinstance(fig, Figure) and fig.axes
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")  # renders without error
        assert buffer.tell() > 1000


def test_head_summary_heatmap_unknown_column(tiny_bert, tokenizer):
    with pytest.raises(ValueError, match="column='nope'"):
        figures.head_summary_heatmap(E.head_summary(tiny_bert, tokenizer, "Hi."), "nope")
