"""Tests for course_utils.attribution._loo: leave-one-out occlusion scores (replace or delete, token or word)."""

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from course_utils.attribution import _loo
from course_utils.models import PACKAGED, model_source

TEXTS = ["The economy is growing stronger every year.", "Taxes must be cut."]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(model_source(PACKAGED))


@pytest.fixture(scope="module")
def tiny_classifier(tokenizer):
    torch.manual_seed(4)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
        attn_implementation="eager",
        initializer_range=0.2,
    )  # larger weights than the default: scores well above float noise
    return BertForSequenceClassification(config).eval()


def make_batch(tokenizer, texts, pad_to=None):
    enc = tokenizer(texts, padding="max_length" if pad_to else True, max_length=pad_to, return_tensors="pt")
    word_ids = [[-1 if w is None else w for w in enc.word_ids(i)] for i in range(len(texts))]
    return {
        **{k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")},
        "word_ids": torch.tensor(word_ids),
    }


def log_p(model, ids, target):
    with torch.no_grad():
        return model(input_ids=ids[None]).logits[0].log_softmax(-1)[target]


def test_attribute_shapes_zeros_and_passes(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS)
    scores, diag = _loo.attribute(tiny_classifier, batch, torch.tensor([0, 1]))
    assert scores.shape == batch["input_ids"].shape
    n_real = batch["attention_mask"].sum(1)
    assert diag["forward_passes"].tolist() == (n_real - 1).tolist()  # n − 2 special tokens, + 1 original
    special_or_pad = batch["word_ids"] < 0
    assert torch.all(scores[special_or_pad] == 0)
    assert torch.all(scores[~special_or_pad] != 0)


@pytest.mark.parametrize("replacement, token_id", [("mask", 103), ("unk", 100), ("pad", 0)])
@pytest.mark.parametrize("with_tokenizer", [True, False])
def test_attribute_matches_manual_replacement(
    tiny_classifier, tokenizer, replacement, token_id, with_tokenizer
):
    batch = make_batch(tokenizer, TEXTS[:1])
    given = {"tokenizer": tokenizer} if with_tokenizer else {}
    scores, diag = _loo.attribute(tiny_classifier, batch, torch.tensor([1]), replacement=replacement, **given)
    ids = batch["input_ids"][0]
    perturbed = ids.clone()
    perturbed[3] = token_id
    expected = log_p(tiny_classifier, ids, 1).exp() - log_p(tiny_classifier, perturbed, 1).exp()
    assert scores[0, 3].item() == pytest.approx(expected.item(), abs=1e-6)
    assert diag["target_probability"][0].item() == pytest.approx(
        log_p(tiny_classifier, ids, 1).exp().item(), abs=1e-6
    )


def test_attribute_deletion_matches_manual_and_differs_from_replacement(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS[:1])
    deleted, _ = _loo.attribute(tiny_classifier, batch, torch.tensor([1]), replacement="delete")
    masked, _ = _loo.attribute(tiny_classifier, batch, torch.tensor([1]), replacement="mask")
    ids = batch["input_ids"][0]
    shorter = torch.cat([ids[:3], ids[4:]])
    expected = log_p(tiny_classifier, ids, 1).exp() - log_p(tiny_classifier, shorter, 1).exp()
    assert deleted[0, 3].item() == pytest.approx(expected.item(), abs=1e-6)
    assert not torch.allclose(deleted, masked)


def test_attribute_replacement_id_overrides_tokenizer(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS[:1])
    unk, _ = _loo.attribute(tiny_classifier, batch, torch.tensor([1]), replacement="unk")
    forced, _ = _loo.attribute(
        tiny_classifier, batch, torch.tensor([1]), replacement="mask", replacement_id=100, tokenizer=tokenizer
    )
    assert torch.equal(unk, forced)


def test_attribute_loss_measure_has_same_signs(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS)
    prob, _ = _loo.attribute(tiny_classifier, batch, torch.tensor([0, 1]), measure="probability")
    loss, _ = _loo.attribute(tiny_classifier, batch, torch.tensor([0, 1]), measure="loss")
    assert torch.equal(torch.sign(prob), torch.sign(loss))


def test_attribute_padding_invariance(tiny_classifier, tokenizer):
    alone, _ = _loo.attribute(tiny_classifier, make_batch(tokenizer, TEXTS[1:]), torch.tensor([1]))
    padded, _ = _loo.attribute(
        tiny_classifier, make_batch(tokenizer, TEXTS[1:], pad_to=30), torch.tensor([1])
    )
    n = alone.shape[1]
    assert torch.allclose(alone[0], padded[0, :n], atol=1e-5)
    assert torch.all(padded[0, n:] == 0)


def test_attribute_batch_invariance(tiny_classifier, tokenizer):
    together, _ = _loo.attribute(
        tiny_classifier, make_batch(tokenizer, TEXTS), torch.tensor([0, 1]), internal_batch_size=64
    )
    for d, text in enumerate(TEXTS):
        single, _ = _loo.attribute(
            tiny_classifier, make_batch(tokenizer, [text]), torch.tensor([d]), internal_batch_size=1
        )
        assert torch.allclose(together[d, : single.shape[1]], single[0], atol=1e-5)


def test_attribute_word_level_shares_scores_across_pieces(tiny_classifier, tokenizer):
    text = ["Bipartisanship matters."]  # "bipartisanship" splits into three WordPieces
    batch = make_batch(tokenizer, text)
    pieces = (batch["word_ids"][0] == 0).sum().item()
    assert pieces > 1
    scores, diag = _loo.attribute(tiny_classifier, batch, torch.tensor([0]), level="word")
    first_word = scores[0, batch["word_ids"][0] == 0]
    assert torch.allclose(first_word, first_word[0].expand(pieces))  # the word's score, split evenly
    whole = batch["input_ids"][0].clone()
    whole[batch["word_ids"][0] == 0] = 103
    expected = log_p(tiny_classifier, batch["input_ids"][0], 0).exp() - log_p(tiny_classifier, whole, 0).exp()
    assert first_word.sum().item() == pytest.approx(expected.item(), abs=1e-6)
    n_words = int(batch["word_ids"].max()) + 1
    assert diag["forward_passes"].item() == n_words + 1


def test_attribute_word_level_without_word_ids_falls_back(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS[:1])
    batch.pop("word_ids")
    with pytest.warns(UserWarning, match="word_ids"):
        scores, diag = _loo.attribute(tiny_classifier, batch, torch.tensor([0]), level="word")
    assert diag["n_units"].item() == batch["attention_mask"].sum().item() - 2


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"replacement": "blank"}, ValueError, "replacement='blank'"),
        ({"measure": "logit"}, ValueError, "measure='logit'"),
        ({"level": "sentence"}, ValueError, "level='sentence'"),
        ({"internal_batch_size": 0}, ValueError, "is too small: use an integer ≥ 1"),
        ({"internal_batch_size": "8"}, TypeError, "must be an int"),
    ],
)
def test_attribute_bad_options_raise(tiny_classifier, tokenizer, options, error, match):
    with pytest.raises(error, match=match):
        _loo.attribute(tiny_classifier, make_batch(tokenizer, TEXTS[:1]), torch.tensor([0]), **options)
