"""Tests for the [CLS]-only forward pass (course_utils.attribution._cls_forward)."""

import warnings

import pytest
import torch

from course_utils.attribution import _cls_forward


def tiny_bert(attn: str = "eager"):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=24,
        max_position_embeddings=32,
        num_labels=3,
        attn_implementation=attn,
        initializer_range=0.3,
    )
    return BertForSequenceClassification(config).eval()


def inputs(model, rows=4, length=9):
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 50, (rows, length), generator=generator)  # (rows, length)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[3, 4:] = 0
    types = torch.zeros_like(ids)
    types[0, 5:] = 1
    with torch.no_grad():
        emb = model.get_input_embeddings()(ids)  # (rows, length, hidden)
    return emb, mask, types


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_shortcut_matches_full_forward_and_its_gradients(attn):
    model = tiny_bert(attn)
    fn = _cls_forward.logits_function(model)
    assert _cls_forward._checked[model], "a BERT classifier takes the shortcut"
    emb, mask, types = inputs(model)
    a, b = emb.clone().requires_grad_(True), emb.clone().requires_grad_(True)
    short = fn(a, mask, types)  # (rows, 3)
    full = model(inputs_embeds=b, attention_mask=mask, token_type_ids=types).logits
    torch.testing.assert_close(short, full, atol=1e-5, rtol=0)
    (ga,) = torch.autograd.grad(short.softmax(-1)[:, 1].sum(), a)
    (gb,) = torch.autograd.grad(full.softmax(-1)[:, 1].sum(), b)
    torch.testing.assert_close(ga, gb, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(
        fn(emb, mask, None), model(inputs_embeds=emb, attention_mask=mask).logits, atol=1e-5, rtol=0
    )


def test_other_architectures_use_their_own_forward():
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(0)
    model = DistilBertForSequenceClassification(
        DistilBertConfig(
            vocab_size=50, dim=16, n_layers=2, n_heads=2, hidden_dim=24, max_position_embeddings=32
        )
    ).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not built like BERT: its own forward pass is no fallback, no warning
        fn = _cls_forward.logits_function(model)
    assert not _cls_forward._checked[model]
    emb, mask, _ = inputs(model)
    torch.testing.assert_close(fn(emb, mask, None), model(inputs_embeds=emb, attention_mask=mask).logits)


def test_a_bert_that_computes_something_else_fails_the_check():
    from transformers import BertForSequenceClassification

    class Doubled(
        BertForSequenceClassification
    ):  # same modules, different output: the shortcut would be wrong
        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            out.logits = 2 * out.logits
            return out

    model = Doubled(tiny_bert().config).eval()
    with pytest.warns(
        RuntimeWarning,
        match=r"Doubled looks like BERT, but .* does not reproduce its logits to 0\.0001; "
        r"using the model's full forward pass.*about 1/3 more work per pass",
    ):
        fn = _cls_forward.logits_function(model)
    assert not _cls_forward._checked[model]
    emb, mask, types = inputs(model)
    torch.testing.assert_close(
        fn(emb, mask, types), model(inputs_embeds=emb, attention_mask=mask, token_type_ids=types).logits
    )


def test_check_keeps_training_mode_and_runs_once():
    model = tiny_bert().train()
    _cls_forward.logits_function(model)
    assert model.training, "the check restores the mode it found"
    _cls_forward._checked[model] = False  # a cached verdict is not re-checked
    emb, mask, types = inputs(model)
    model.eval()
    fn = _cls_forward.logits_function(model)
    torch.testing.assert_close(
        fn(emb, mask, types), model(inputs_embeds=emb, attention_mask=mask, token_type_ids=types).logits
    )


def test_a_failing_check_falls_back_with_one_warning(monkeypatch):
    model = tiny_bert()

    def broken(model):
        raise RuntimeError("an unexpected layer")

    monkeypatch.setattr(_cls_forward, "_agrees", broken)
    with pytest.warns(
        RuntimeWarning,
        match=r"could not be checked against its own forward pass \(RuntimeError: an "
        r"unexpected layer\); using the model's full forward pass instead\. Scores are the same",
    ):
        fn = _cls_forward.logits_function(model)
    assert not _cls_forward._checked[model]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: the verdict is kept for this model
        fn = _cls_forward.logits_function(model)
    emb, mask, types = inputs(model)
    torch.testing.assert_close(
        fn(emb, mask, types), model(inputs_embeds=emb, attention_mask=mask, token_type_ids=types).logits
    )
