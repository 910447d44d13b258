"""Tests for course_utils.attribution._atman: the attention function, the model switch, and AtMan scores."""

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification
from transformers.models.bert.modeling_bert import eager_attention_forward

from course_utils.attribution import _atman as A
from course_utils.models import PACKAGED, load_classifier, model_source

TEXTS = ["The economy is growing stronger every year.", "Taxes must be cut."]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(model_source(PACKAGED))


@pytest.fixture(scope="module")
def tiny_classifier(tokenizer):
    torch.manual_seed(5)
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


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(progress=False)


def make_batch(tokenizer, texts, pad_to=None):
    enc = tokenizer(texts, padding="max_length" if pad_to else True, max_length=pad_to, return_tensors="pt")
    word_ids = [[-1 if w is None else w for w in enc.word_ids(i)] for i in range(len(texts))]
    return {
        **{k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")},
        "word_ids": torch.tensor(word_ids),
    }


def model_inputs(batch):
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def qkv(seed=0, b=2, h=3, s=6, d=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, s, d, generator=g) for _ in range(3)]


def padding_mask(lengths, s):
    keep = torch.arange(s)[None, :] < torch.tensor(lengths)[:, None]  # (b, s)
    return torch.where(keep, 0.0, torch.finfo(torch.float32).min)[:, None, None, :].expand(-1, 1, s, s)


MODULE = torch.nn.Module().eval()


# ------------------------------------------------------------------------------- attention function
@pytest.mark.parametrize("shift", [True, False])
@pytest.mark.parametrize("factors", ["none", "ones"])
def test_atman_attention_forward_without_suppression_equals_eager_exactly(shift, factors):
    q, k, v = qkv()
    mask = padding_mask([6, 4], 6)
    f = None if factors == "none" else torch.ones(2, 6)
    ours = A.atman_attention_forward(MODULE, q, k, v, mask, scaling=0.5, atman_factors=f, atman_shift=shift)
    eager = eager_attention_forward(MODULE, q, k, v, mask, scaling=0.5)
    assert torch.equal(ours[0], eager[0]) and torch.equal(ours[1], eager[1])


def test_atman_attention_forward_shift_lowers_the_suppressed_column():
    q, k, v = qkv(1)
    f = torch.ones(2, 6)
    f[:, 2] = 0.1
    _, before = eager_attention_forward(MODULE, q, k, v, None, scaling=1.0)
    _, after = A.atman_attention_forward(
        MODULE, q, k, v, None, scaling=1.0, atman_factors=f, atman_shift=True
    )
    scores = q @ k.transpose(2, 3)  # (b, h, s, s)
    is_row_min = scores[..., 2] == scores.amin(-1)  # shifted to 0: nothing left to suppress
    assert torch.all(after[..., 2][~is_row_min] < before[..., 2][~is_row_min])
    assert torch.all(after[..., 2] <= before[..., 2] + 1e-7)


def test_atman_attention_forward_sign_trap_without_shift_raises_negative_scores():
    q, k, v = qkv(2)
    f = torch.ones(2, 6)
    f[:, 2] = 0.1
    _, before = eager_attention_forward(MODULE, q, k, v, None, scaling=1.0)
    _, trapped = A.atman_attention_forward(
        MODULE, q, k, v, None, scaling=1.0, atman_factors=f, atman_shift=False
    )
    negative = (q @ k.transpose(2, 3))[..., 2] < 0  # (b, h, s) query rows where key 2 has a negative score
    assert negative.sum() > 0
    rises = trapped[..., 2][negative] > before[..., 2][negative]
    assert rises.float().mean() > 0.5  # most of them gain attention although "suppressed"
    assert torch.all(trapped[..., 2][~negative] <= before[..., 2][~negative] + 1e-7)


def test_atman_attention_forward_row_minimum_ignores_padded_keys():
    q, k, v = qkv(3, b=1, s=6)
    k_padded = k.clone()
    k_padded[:, :, 4:] = -50 * q.mean(2, keepdim=True)  # padded keys with extreme (very negative) raw scores
    f = torch.ones(1, 6)
    f[:, 1] = 0.1
    short = A.atman_attention_forward(
        MODULE, q[:, :, :4], k[:, :, :4], v[:, :, :4], None, atman_factors=f[:, :4]
    )
    padded = A.atman_attention_forward(MODULE, q, k_padded, v, padding_mask([4], 6), atman_factors=f)
    assert torch.allclose(short[0], padded[0][:, :4], atol=1e-6)


# --------------------------------------------------------------------------------------- model swap
def test_atman_attention_multiplier_one_reproduces_logits_exactly(tiny_classifier, tokenizer):
    batch = model_inputs(make_batch(tokenizer, TEXTS))
    with torch.no_grad():
        plain = tiny_classifier(**batch).logits
        with A.atman_attention(tiny_classifier):
            same = tiny_classifier(**batch, atman_factors=torch.ones(batch["input_ids"].shape)).logits
    assert torch.equal(plain, same)


def test_atman_attention_multiplier_one_reproduces_real_classifier(classifier):
    tokenizer, model = classifier
    batch = model_inputs(make_batch(tokenizer, TEXTS))
    with torch.no_grad():
        plain = model(**batch).logits
        with A.atman_attention(model):
            same = model(**batch, atman_factors=torch.ones(batch["input_ids"].shape)).logits
    assert (plain - same).abs().max().item() <= 1e-6


def test_atman_attention_restores_implementation_after_exception(tiny_classifier, tokenizer):
    batch = model_inputs(make_batch(tokenizer, TEXTS))
    with torch.no_grad():
        before = tiny_classifier(**batch).logits
    with pytest.raises(RuntimeError):
        with A.atman_attention(tiny_classifier):
            assert tiny_classifier.config._attn_implementation == "atman"
            tiny_classifier(**batch, atman_factors=torch.ones(2, 3))  # wrong shape: fails inside attention
    assert tiny_classifier.config._attn_implementation == "eager"
    with torch.no_grad():
        assert torch.equal(tiny_classifier(**batch).logits, before)


def test_attribute_leaves_no_state_behind(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS)
    A.attribute(tiny_classifier, batch, torch.tensor([0, 1]))
    assert tiny_classifier.config._attn_implementation == "eager"
    assert not tiny_classifier.training


def test_attention_weights_suppressed_column_loses_attention_in_first_layer(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS[:1])
    factors = torch.ones(batch["input_ids"].shape)
    factors[0, 3] = 0.1
    _, plain = A.attention_weights(tiny_classifier, batch)
    _, suppressed = A.attention_weights(tiny_classifier, batch, factors)
    assert torch.all(suppressed[0][..., 3] <= plain[0][..., 3] + 1e-7)
    assert suppressed[0][..., 3].sum() < plain[0][..., 3].sum()


# ------------------------------------------------------------------------------------------- scores
def test_attribute_matches_manual_suppression(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS[:1])
    scores, diag = A.attribute(tiny_classifier, batch, torch.tensor([1]))
    factors = torch.ones(batch["input_ids"].shape)
    factors[0, 2] = 0.1
    with torch.no_grad(), A.atman_attention(tiny_classifier):
        orig = tiny_classifier(**model_inputs(batch)).logits.log_softmax(-1)[0, 1]
        sup = tiny_classifier(**model_inputs(batch), atman_factors=factors).logits.log_softmax(-1)[0, 1]
    assert scores[0, 2].item() == pytest.approx(
        (orig - sup).item(), abs=1e-6
    )  # CE(suppressed) − CE(original)
    n = batch["attention_mask"].sum().item()
    assert diag["forward_passes"].item() == n - 1
    assert scores[0, 0] == 0 and scores[0, n - 1] == 0


def test_attribute_multiplier_one_gives_zero_scores(tiny_classifier, tokenizer):
    scores, _ = A.attribute(
        tiny_classifier, make_batch(tokenizer, TEXTS), torch.tensor([0, 1]), multiplier=1.0
    )
    assert scores.abs().max().item() <= 1e-6


def test_attribute_padding_invariance(tiny_classifier, tokenizer):
    alone, _ = A.attribute(tiny_classifier, make_batch(tokenizer, TEXTS[1:]), torch.tensor([1]))
    padded, _ = A.attribute(tiny_classifier, make_batch(tokenizer, TEXTS[1:], pad_to=30), torch.tensor([1]))
    n = alone.shape[1]
    assert torch.allclose(alone[0], padded[0, :n], atol=1e-5)
    assert torch.all(padded[0, n:] == 0)


def test_attribute_batch_invariance(tiny_classifier, tokenizer):
    together, _ = A.attribute(
        tiny_classifier, make_batch(tokenizer, TEXTS), torch.tensor([0, 1]), internal_batch_size=64
    )
    for d, text in enumerate(TEXTS):
        single, _ = A.attribute(
            tiny_classifier, make_batch(tokenizer, [text]), torch.tensor([d]), internal_batch_size=1
        )
        assert torch.allclose(together[d, : single.shape[1]], single[0], atol=1e-5)


def test_attribute_shift_changes_scores(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, TEXTS[:1])
    shifted, _ = A.attribute(tiny_classifier, batch, torch.tensor([0]), shift=True)
    trapped, _ = A.attribute(tiny_classifier, batch, torch.tensor([0]), shift=False)
    assert not torch.allclose(shifted, trapped)


def test_attribute_word_level_one_pass_per_word(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, ["Bipartisanship matters."])
    scores, diag = A.attribute(tiny_classifier, batch, torch.tensor([0]), level="word")
    pieces = scores[0, batch["word_ids"][0] == 0]
    assert len(pieces) == 3 and torch.allclose(pieces, pieces[0].expand(3))
    factors = torch.where(batch["word_ids"] == 0, 0.1, 1.0)
    with torch.no_grad(), A.atman_attention(tiny_classifier):
        orig = tiny_classifier(**model_inputs(batch)).logits.log_softmax(-1)[0, 0]
        sup = tiny_classifier(**model_inputs(batch), atman_factors=factors).logits.log_softmax(-1)[0, 0]
    assert pieces.sum().item() == pytest.approx(
        (orig - sup).item(), abs=1e-6
    )  # pieces sum to the word's score
    assert diag["forward_passes"].item() == int(batch["word_ids"].max()) + 2


def test_attribute_conceptual_repeated_word_gets_equal_scores(tiny_classifier, tokenizer):
    batch = make_batch(tokenizer, ["Jobs, more jobs and better jobs."])
    ids = batch["input_ids"][0]
    where = (ids == tokenizer.convert_tokens_to_ids("jobs")).nonzero().flatten()
    assert len(where) == 3
    plain, _ = A.attribute(tiny_classifier, batch, torch.tensor([0]))
    concept, diag = A.attribute(tiny_classifier, batch, torch.tensor([0]), conceptual=True)
    assert torch.allclose(concept[0, where], concept[0, where[0]].expand(3), atol=1e-5)
    assert (plain[0, where] - plain[0, where[0]]).abs().max() > 1e-3
    assert diag["co_suppressed"].item() > 0


# ----------------------------------------------------------------------------------- factor building
def test_suppression_factors_plain_and_conceptual():
    units = torch.eye(4, dtype=torch.bool)[1:3]  # explain positions 1 and 2
    plain = A.suppression_factors(units, multiplier=0.1)
    assert plain[0].tolist() == pytest.approx([1, 0.1, 1, 1])
    assert plain[1].tolist() == pytest.approx([1, 1, 0.1, 1])
    sim = torch.tensor(
        [[1.0, 0.9, 0.1, 0.8], [0.9, 1.0, 0.2, 0.75], [0.1, 0.2, 1.0, 0.3], [0.8, 0.75, 0.3, 1.0]]
    )
    suppressible = torch.tensor([False, True, True, True])
    concept = A.suppression_factors(
        units, multiplier=0.1, similarity=sim, kappa=0.7, suppressible=suppressible
    )
    assert concept[0].tolist() == pytest.approx(
        [1, 0.1, 1, 1 - 0.9 * 0.75]
    )  # position 0 is special: untouched
    assert concept[1].tolist() == pytest.approx([1, 1, 0.1, 1])  # nothing similar enough to position 2


def test_concept_similarity_is_one_on_the_diagonal(tiny_classifier):
    sim = A.concept_similarity(tiny_classifier, torch.tensor([2000, 2001, 2000]))
    assert torch.allclose(sim.diagonal(), torch.ones(3), atol=1e-6)
    assert sim[0, 2].item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"multiplier": -0.1}, ValueError, r"multiplier=-0.1 must lie in \[0, 1\]"),
        ({"multiplier": 1.5}, ValueError, "multiplier=1.5"),
        ({"multiplier": "0.1"}, TypeError, "multiplier must be a number"),
        ({"kappa": 0.0}, ValueError, "kappa=0.0"),
        ({"kappa": 1.2}, ValueError, "kappa=1.2"),
        ({"level": "sentence"}, ValueError, "level='sentence'"),
        ({"internal_batch_size": 0}, ValueError, "is too small: use an integer ≥ 1"),
    ],
)
def test_attribute_bad_options_raise(tiny_classifier, tokenizer, options, error, match):
    with pytest.raises(error, match=match):
        A.attribute(tiny_classifier, make_batch(tokenizer, TEXTS[:1]), torch.tensor([0]), **options)
