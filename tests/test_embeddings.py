"""Tests for course_utils.embeddings: the three tables rebuilt by hand, contextual vectors, attention, errors."""

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

from course_utils import embeddings as E
from course_utils.models import PACKAGED, load_encoder, model_source

PAIR = ("The state of our Union is strong.", "We need bipartisan cooperation.")
SENTENCES = [
    "The bank raised interest rates.",
    "We sat on the bank of the river.",
    "Our bank is open on Sunday.",
]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(model_source(PACKAGED))


def tiny_config(tokenizer, **extra) -> BertConfig:
    return BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        **extra,
    )


@pytest.fixture(scope="module")
def tiny_bert(tokenizer):
    torch.manual_seed(0)
    return BertModel(tiny_config(tokenizer, attn_implementation="eager")).eval()


@pytest.fixture(scope="module")
def tiny_classifier(tokenizer):
    torch.manual_seed(1)
    return BertForSequenceClassification(
        tiny_config(tokenizer, num_labels=2, attn_implementation="eager")
    ).eval()


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(device="cpu")


def model_output(model, comp):
    with torch.no_grad():
        return E.bert_of(model).embeddings(input_ids=comp.input_ids, token_type_ids=comp.token_type_ids)


# ------------------------------------------------------------------------------------- components
@pytest.mark.parametrize(
    "texts", [PAIR, [PAIR, ("Short.", "Pairs pad.")], ["One text.", "A longer second text to pad."]]
)
@pytest.mark.parametrize("which", ["tiny_bert", "tiny_classifier"])
def test_embedding_components_equal_model_embeddings_tiny(request, tokenizer, which, texts):
    model = request.getfixturevalue(which)
    comp = E.embedding_components(model, tokenizer, texts)
    assert (comp.combined - model_output(model, comp)).abs().max().item() < 1e-5


def test_embedding_components_equal_model_embeddings_packaged_pair(encoder):
    tokenizer, model = encoder
    comp = E.embedding_components(model, tokenizer, PAIR)
    assert (comp.combined - model_output(model, comp)).abs().max().item() < 1e-5


def test_embedding_components_shapes(tiny_bert, tokenizer):
    texts = ["The state of our Union is strong.", "Congress must act."]
    comp = E.embedding_components(tiny_bert, tokenizer, texts)
    b, s = comp.input_ids.shape
    assert b == 2 and len(comp.tokens) == 2 and all(len(t) == s for t in comp.tokens)
    for name in ("token", "segment", "position", "summed", "combined"):
        assert getattr(comp, name).shape == (b, s, 32), name
    assert torch.equal(comp.summed, comp.token + comp.segment + comp.position)
    assert torch.equal(comp.position_ids[1], torch.arange(s))


def test_embedding_components_pair_segments(tiny_bert, tokenizer):
    comp = E.embedding_components(tiny_bert, tokenizer, PAIR)
    tokens, types = comp.tokens[0], comp.token_type_ids[0].tolist()
    first_sep = tokens.index("[SEP]")
    assert types[: first_sep + 1] == [0] * (first_sep + 1)
    assert types[first_sep + 1 :] == [1] * (len(tokens) - first_sep - 1)
    table = tiny_bert.embeddings.token_type_embeddings.weight
    assert torch.equal(comp.segment[0, 0], table[0]) and torch.equal(comp.segment[0, -1], table[1])


def test_embedding_components_single_text_is_segment_a(tiny_bert, tokenizer):
    comp = E.embedding_components(tiny_bert, tokenizer, "A single sentence.")
    assert comp.token_type_ids.sum().item() == 0


def test_embedding_components_warns_in_training_mode(tokenizer):
    model = BertModel(tiny_config(tokenizer)).train()
    with pytest.warns(UserWarning, match="training mode"):
        E.embedding_components(model, tokenizer, "Hello there.")


def test_embedding_components_max_length_truncates(tiny_bert, tokenizer):
    comp = E.embedding_components(tiny_bert, tokenizer, "word " * 100, max_length=10)
    assert comp.input_ids.shape == (1, 10) and comp.tokens[0][-1] == "[SEP]"


def test_norms_skip_padding(tiny_bert, tokenizer):
    comp = E.embedding_components(tiny_bert, tokenizer, ["Short.", "A much longer sentence than the first."])
    norms = comp.norms(0)
    assert len(norms) == int(comp.attention_mask[0].sum())
    assert "[PAD]" not in set(norms["token"])
    assert (norms[["token_norm", "segment_norm", "position_norm"]] > 0).all().all()


def test_layer_norm_equals_torch():
    torch.manual_seed(0)
    x, w, b = torch.randn(3, 5, 8), torch.randn(8), torch.randn(8)
    expected = torch.nn.functional.layer_norm(x, (8,), w, b, eps=1e-12)
    assert torch.allclose(E.layer_norm(x, w, b, 1e-12), expected, atol=1e-5)


def test_rebuild_embeddings_shape_mismatch_raises(tiny_bert):
    with pytest.raises(ValueError, match="same shape"):
        E.rebuild_embeddings(tiny_bert, torch.zeros(1, 3, 32), torch.zeros(1, 3, 32), torch.zeros(1, 4, 32))


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("texts", "error", "match"),
    [
        (None, TypeError, "texts must be"),
        (42, TypeError, "texts must be"),
        ([], ValueError, "texts is empty"),
        (["ok", ""], ValueError, r"texts\[1\] is empty"),
        (["ok", 3], TypeError, r"texts\[1\] is a int"),
        (["ok", ("a", "b")], ValueError, "mixes single texts and"),
        (("a", " "), ValueError, r"texts\[0\] is empty"),
    ],
)
def test_check_texts_bad_input(texts, error, match):
    with pytest.raises(error, match=match):
        E.check_texts(texts)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ("one", (["one"], None)),
        (("a", "b"), (["a"], ["b"])),
        (["a", "b"], (["a", "b"], None)),
        ([("a", "b"), ("c", "d")], (["a", "c"], ["b", "d"])),
        (pd.Series(["a", "b"]), (["a", "b"], None)),
    ],
)
def test_check_texts_accepted_forms(texts, expected):
    assert E.check_texts(texts) == expected


def test_bert_of_rejects_other_models():
    with pytest.raises(TypeError, match="must be a BERT"):
        E.bert_of(torch.nn.Linear(2, 2))


def test_bert_of_finds_bert_inside_classifier(tiny_classifier):
    assert E.bert_of(tiny_classifier) is tiny_classifier.bert


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layer": 2}, ValueError, r"layer=2 is out of range: this model has 2 layers"),
        ({"layer": -3}, ValueError, "out of range"),
        ({"head": 2}, ValueError, r"head=2 is out of range"),
        ({"head": 1.0}, TypeError, "head must be an int"),
        ({"text": ["a", "b"]}, ValueError, "one text or one"),
    ],
)
def test_attention_map_bad_input(tiny_bert, tokenizer, kwargs, error, match):
    args = {"text": "The union is strong.", "layer": 0, "head": 0} | kwargs
    with pytest.raises(error, match=match):
        E.attention_map(tiny_bert, tokenizer, **args)


def test_attention_map_needs_eager(tokenizer):
    model = BertModel(tiny_config(tokenizer, attn_implementation="sdpa")).eval()
    with pytest.raises(ValueError, match="attn_implementation='eager'"):
        E.attention_map(model, tokenizer, "The union is strong.")


@pytest.mark.parametrize(
    ("sentences", "word", "error", "match"),
    [
        (
            ["The bank is open."],
            "river",
            ValueError,
            r"word 'river' \(WordPieces \['river'\]\) is not a whole word of sentence 0: 'The bank is open.'",
        ),
        (["A bipartisan bill."], "bi", ValueError, "is not a whole word of sentence 0"),
        (["The bank is open."], "two words", ValueError, "exactly one word"),
        (["The bank is open."], 3, TypeError, "word must be a string"),
        ([("a bank", "b bank")], "bank", ValueError, "not sentence pairs"),
        (["The bank is open."], "bank", ValueError, r"layer=5 is out of range"),
    ],
)
def test_contextual_vectors_bad_input(tiny_bert, tokenizer, sentences, word, error, match):
    layer = 5 if "layer" in match else -1
    with pytest.raises(error, match=match):
        E.contextual_vectors(tiny_bert, tokenizer, sentences, word, layer=layer)


# ---------------------------------------------------------------------------------- contextual vectors
def test_contextual_vectors_same_input_different_output_tiny(tiny_bert, tokenizer):
    cv = E.contextual_vectors(tiny_bert, tokenizer, SENTENCES, "bank")
    assert cv.input.shape == cv.contextual.shape == (3, 32)
    assert all(torch.equal(cv.input[0], v) for v in cv.input)
    diffs = [(cv.contextual[i] - cv.contextual[j]).abs().max().item() for i, j in ((0, 1), (0, 2), (1, 2))]
    assert min(diffs) > 1e-4  # random weights mix context only weakly, but every vector differs


def test_contextual_vectors_same_input_different_output_packaged(encoder):
    tokenizer, model = encoder
    cv = E.contextual_vectors(model, tokenizer, SENTENCES, "bank")
    assert all(torch.equal(cv.input[0], v) for v in cv.input)
    assert torch.equal(
        cv.input[0], model.embeddings.word_embeddings.weight[tokenizer.convert_tokens_to_ids("bank")]
    )
    sims = E.cosine_matrix(cv.contextual)
    assert sims[~np.eye(3, dtype=bool)].max() < 0.97


def test_contextual_vectors_average_wordpieces(tiny_bert, tokenizer):
    sentences = ["A bipartisan bill passed.", "Bipartisan support matters."]
    cv = E.contextual_vectors(tiny_bert, tokenizer, sentences, "bipartisan")
    assert cv.pieces == ["bi", "##partisan"] and cv.positions == [[2, 3], [1, 2]]
    with torch.no_grad():
        hidden = tiny_bert(
            **E.encode(tiny_bert, tokenizer, sentences), output_hidden_states=True
        ).hidden_states[-1]
        table = tiny_bert.embeddings.word_embeddings.weight[tokenizer.convert_tokens_to_ids(cv.pieces)]
    assert torch.allclose(cv.contextual[0], hidden[0, 2:4].mean(0))
    assert torch.allclose(cv.input[1], table.mean(0))


def test_contextual_vectors_layer_zero_is_embedding_output(tiny_bert, tokenizer):
    cv = E.contextual_vectors(tiny_bert, tokenizer, SENTENCES[:1], "bank", layer=0)
    comp = E.embedding_components(tiny_bert, tokenizer, SENTENCES[:1])
    assert cv.layer == 0
    assert torch.allclose(cv.contextual[0], comp.combined[0, cv.positions[0][0]], atol=1e-5)


def test_cosine_matrix_properties():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    sims = E.cosine_matrix(a)
    assert sims.shape == (4, 4) and np.allclose(np.diag(sims), 1) and np.allclose(sims, sims.T)
    assert E.cosine_matrix(a, b).shape == (4, 3)
    assert np.isclose(E.cosine_matrix(a[:1], -a[:1])[0, 0], -1)
    with pytest.raises(ValueError, match="same number of columns"):
        E.cosine_matrix(a, rng.normal(size=(3, 5)))


# ------------------------------------------------------------------------------------------- attention
def test_attention_map_rows_sum_to_one(tiny_bert, tokenizer):
    amap = E.attention_map(tiny_bert, tokenizer, PAIR, layer=-1, head=1)
    n = len(amap.tokens)
    assert amap.weights.shape == (n, n) and (amap.layer, amap.head) == (1, 1)
    assert np.allclose(amap.weights.sum(1), 1, atol=1e-5)


def test_attention_map_works_with_classifier(tiny_classifier, tokenizer):
    assert E.attention_map(tiny_classifier, tokenizer, "The union is strong.", 0, 0).weights.ndim == 2


def test_head_summary_one_row_per_head(tiny_bert, tokenizer):
    table = E.head_summary(tiny_bert, tokenizer, PAIR)
    assert len(table) == 4 and list(table[["layer", "head"]].itertuples(index=False, name=None)) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    shares = table[["special", "previous", "next", "self"]].to_numpy()
    assert (shares >= 0).all() and (shares <= 1 + 1e-6).all()


def test_word_pieces_splits_rare_words(tokenizer):
    table = E.word_pieces(
        tokenizer, ["A bipartisan bill.", "Bipartisan and bipartisan.", "The bill."], min_pieces=2
    )
    row = table.set_index("word").loc["bipartisan"]
    assert row["pieces"] == ["bi", "##partisan"] and row["n_pieces"] == 2 and row["count"] == 3
    assert "bill" not in set(table["word"])
