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
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        attn_implementation="eager",
    )
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
    fig = figures.bert_input_diagram(
        "The union is strong.", None, tokenizer=tokenizer, out_dir=tmp_path, name="one"
    )
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
    [
        ("state", r"$E_{\mathrm{state}}$"),
        ("##ing", r"$E_{\#\#\mathrm{ing}}$"),
        ("[CLS]", r"$E_{\mathrm{[CLS]}}$"),
        ("{", "E({)"),
    ],
)
def test_subscript_escapes_wordpieces(token, expected):
    assert figures._subscript("E", token) == expected


def test_notebook_plots_return_figures(tiny_bert, tokenizer):
    comp = E.embedding_components(
        tiny_bert, tokenizer, [("The union is strong.", "Congress acts."), ("Short.", "Pair.")]
    )
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


# ------------------------------------------------------------------ issue 17: the pictures of notebooks 01-03
from transformers import BertForSequenceClassification  # noqa: E402

PARAGRAPH = "We will cut taxes for working families and secure the border."


@pytest.fixture(scope="module")
def tiny_classifier(tokenizer):
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
        attn_implementation="eager",
        id2label={0: "Democratic", 1: "Republican"},
        label2id={"Democratic": 0, "Republican": 1},
    )
    return BertForSequenceClassification(config).eval()


def _bytes_of(fig, tmp_path, name):
    png, svg = figures.save_figure(fig, name, tmp_path)
    return png.read_bytes(), svg.read_bytes()


def test_new_committed_figures_regenerate_byte_identically(tmp_path):
    names = ["self_attention", "fine_tuning_pipeline", "bert_pretraining_tasks"]
    first = figures.build_all(tmp_path / "a", names=names)
    second = figures.build_all(tmp_path / "b", names=names)
    assert [p.name for p in first] == [p.name for p in second] and len(first) == 2 * len(names)
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
        if a.suffix == ".svg":
            assert "<dc:date>" not in a.read_text()


def test_committed_files_match_a_fresh_build(tmp_path, locked_matplotlib):
    """The files in figures/ are what build_all draws now (regenerate with `python -m course_utils figures`)."""
    committed = figures.Path(__file__).resolve().parent.parent / "figures"
    names = ["self_attention", "fine_tuning_pipeline", "bert_pretraining_tasks"]
    for path in figures.build_all(tmp_path, names=names):
        assert path.read_bytes() == (committed / path.name).read_bytes(), f"figures/{path.name} is stale"


def test_self_attention_parts_match_the_model(tiny_bert, tokenizer):
    parts = figures.self_attention_parts(tiny_bert, tokenizer, "The union is strong.", layer=1, head=0)
    n = len(parts["tokens"])
    assert parts["queries"].shape == parts["keys"].shape == (n, 16) and parts["weights"].shape == (n, n)
    assert np.allclose(parts["weights"].sum(1), 1, atol=1e-5) and parts["max_diff"] < 1e-5
    reference = E.attention_map(tiny_bert, tokenizer, "The union is strong.", 1, 0).weights
    assert np.allclose(parts["weights"], reference, atol=1e-5)


def test_self_attention_figure_bad_query(tiny_bert, tokenizer):
    with pytest.raises(ValueError, match="query='nope' is not a WordPiece"):
        figures.self_attention_figure(
            tiny_bert, tokenizer, "The union is strong.", layer=0, head=0, query="nope"
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"text": ""}, ValueError, "text=''"),
        ({"hidden_size": True}, TypeError, "hidden_size must be an integer ≥ 1, got bool"),
        ({"hidden_size": 0}, ValueError, "hidden_size=0 is too small"),
        ({"text": "word " * 20}, ValueError, "at most 16"),
    ],
)
def test_fine_tuning_pipeline_figure_bad_input(tokenizer, kwargs, error, match):
    with pytest.raises(error, match=match):
        figures.fine_tuning_pipeline_figure(**kwargs, tokenizer=tokenizer)


def test_pretraining_tasks_figure_bad_word(tokenizer):
    with pytest.raises(ValueError, match="is not one WordPiece"):
        figures.pretraining_tasks_figure(tokenizer=tokenizer, mlm=("The union is strong.", "nation"))


def test_ig_path_integrand_is_complete(tiny_classifier, tokenizer):
    parts = figures.ig_path_integrand(tiny_classifier, tokenizer, PARAGRAPH, target=1, n_points=41)
    n = len(parts["tokens"])
    assert parts["per_token"].shape == (41, n) and parts["alphas"][0] == 0 and parts["alphas"][-1] == 1
    change = parts["f_input"] - parts["f_baseline"]
    assert abs(parts["area"] - change) < 1e-3 * max(abs(change), 1e-3)  # completeness along the path
    assert abs(parts["scores"].sum() - parts["area"]) < 1e-9
    assert parts["scores"][0] == parts["scores"][-1] == 0  # [CLS]/[SEP] equal their baseline


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_points": 40}, ValueError, "odd integer"),
        ({"n_points": 3}, ValueError, "n_points=3 is too small"),
        ({"n_points": True}, TypeError, "n_points must be an integer ≥ 5, got bool"),
        ({"text": " "}, ValueError, "non-empty"),
    ],
)
def test_ig_path_integrand_bad_input(tiny_classifier, tokenizer, kwargs, error, match):
    with pytest.raises(error, match=match):
        figures.ig_path_integrand(tiny_classifier, tokenizer, **({"text": PARAGRAPH} | kwargs))


def test_ig_path_figure_two_runs_give_identical_bytes(tiny_classifier, tokenizer, tmp_path):
    first = _bytes_of(
        figures.ig_path_figure(tiny_classifier, tokenizer, PARAGRAPH, target=1), tmp_path / "a", "ig"
    )
    second = _bytes_of(
        figures.ig_path_figure(tiny_classifier, tokenizer, PARAGRAPH, target=1), tmp_path / "b", "ig"
    )
    assert first == second and b"<dc:date>" not in first[1]


def test_build_all_with_a_classifier_pair(tiny_classifier, tokenizer, tmp_path, monkeypatch):
    monkeypatch.setitem(
        figures.CLASSIFIER_FIGURES,
        "ig_path_integrand",
        lambda model, tok: figures.ig_path_figure(model, tok, PARAGRAPH, target=0),
    )
    written = figures.build_all(
        tmp_path, names=["ig_path_integrand"], classifier=(tokenizer, tiny_classifier)
    )
    assert [p.name for p in written] == ["ig_path_integrand.png", "ig_path_integrand.svg"]
    with pytest.raises(ValueError, match="unknown figure"):
        figures.build_all(tmp_path, names=["ig_path_nope"], classifier=(tokenizer, tiny_classifier))
