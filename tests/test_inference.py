"""course_utils._inference: the one place where texts are batched, padded, truncated, put on the device and run.

Batches come sorted by length and every result goes back to its text's row; truncation warns once per call;
eval mode is restored after an error; inputs land on the model's device (tests/device_check.py's virtual
accelerator plays a GPU); the max-length lookup falls back to BERT's 512.
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch
from device_check import VirtualAccelerator

from course_utils import _inference as inference
from course_utils import audit, influence, models
from course_utils.attribution import _inputs, _words

TEXTS = [
    "Freedom!",
    "We will cut taxes for working families and small businesses across the land.",
    "Health care is a right.",
    "Our economy is strong and our union is stronger than ever before.",
    "Jobs.",
]


# ------------------------------------------------------------------------------------------- batches
def test_length_sorted_batches_sort_by_length_and_cover_every_index_once():
    lengths = [5, 1, 4, 1, 3, 2, 5]
    batches = inference.length_sorted_batches(lengths, 3)
    assert batches == [[1, 3, 5], [4, 2, 0], [6]]  # shortest first; ties in input order
    longest = inference.length_sorted_batches(lengths, 3, longest_first=True)
    assert longest == [[0, 6, 2], [4, 5, 1], [3]]
    for got in (batches, longest):
        flat = [i for b in got for i in b]
        assert sorted(flat) == list(range(len(lengths))) and all(len(b) <= 3 for b in got)
    shuffled = inference.length_sorted_batches(lengths, 3, np.random.default_rng(0))
    assert sorted(map(tuple, shuffled)) == sorted(map(tuple, batches))  # batch order shuffled, contents kept


def test_old_name_stays_importable():
    assert models.length_sorted_batches is inference.length_sorted_batches


@pytest.mark.parametrize(
    ("bad", "error"), [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_batch_size_is_checked(bad, error):
    with pytest.raises(error, match="batch_size"):
        inference.length_sorted_batches([1, 2], bad)


def test_batches_pad_and_come_back_in_input_order(tiny):
    tokenizer, model = tiny
    enc, _ = inference.encode(tokenizer, TEXTS, 64)
    ids = enc["input_ids"]
    seen = []
    for rows, batch in inference.batches(ids, 2, tokenizer.pad_token_id):
        assert set(batch) == {"input_ids", "attention_mask"}
        assert batch["input_ids"].shape == (len(rows), max(len(ids[i]) for i in rows))
        for r, i in enumerate(rows):
            n = len(ids[i])
            assert batch["input_ids"][r, :n].tolist() == ids[i]
            assert (batch["input_ids"][r, n:] == tokenizer.pad_token_id).all()
            assert batch["attention_mask"][r].tolist() == [1] * n + [0] * (batch["input_ids"].shape[1] - n)
        seen.append([len(ids[i]) for i in rows])
    flat = [n for b in seen for n in b]
    assert flat == sorted(flat)  # shortest batch first
    in_order = [rows for rows, _ in inference.batches(ids, 2, tokenizer.pad_token_id, order="input")]
    assert in_order == [[0, 1], [2, 3], [4]]


def test_pad_matches_the_tokenizer_on_both_sides(tiny):
    tokenizer, _ = tiny
    ids = tokenizer(TEXTS)["input_ids"]
    for side in ("right", "left"):
        ours = inference.pad({"input_ids": ids}, {"input_ids": tokenizer.pad_token_id}, side=side)
        tokenizer.padding_side = side
        try:
            theirs = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
        finally:
            tokenizer.padding_side = "right"
        assert list(ours) == ["input_ids", "attention_mask"]
        for key in ours:
            assert torch.equal(ours[key], theirs[key]) and ours[key].dtype == torch.long


def test_forward_rows_are_in_input_order_whatever_the_batch(tiny):
    tokenizer, model = tiny
    ids = inference.encode(tokenizer, TEXTS, 64)[0]["input_ids"]
    forward = lambda batch: model(**batch).logits  # noqa: E731
    one_by_one = torch.cat([model(**tokenizer([t], return_tensors="pt")).logits.detach() for t in TEXTS])
    for batch_size in (1, 2, 5):
        rows = inference.forward_rows(model, forward, ids, batch_size, tokenizer.pad_token_id, width=2)
        assert rows.shape == (len(TEXTS), 2) and rows.dtype == torch.float32
        torch.testing.assert_close(rows, one_by_one, atol=1e-5, rtol=1e-5)


def test_predict_proba_rows_follow_the_input_order(tiny):
    tokenizer, model = tiny
    proba = models.predict_proba(model, tokenizer, TEXTS, batch_size=2)
    backwards = models.predict_proba(model, tokenizer, TEXTS[::-1], batch_size=2)
    np.testing.assert_allclose(proba, backwards[::-1], atol=1e-6)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)


# ---------------------------------------------------------------------------------------- truncation
def test_truncation_warns_once_with_what_was_dropped(tiny):
    tokenizer, _ = tiny
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc, lengths = inference.encode(tokenizer, TEXTS, 8)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1
    too_long = [i for i, n in enumerate(lengths) if n > 8]
    assert messages[0].startswith(
        f"{len(too_long)} text(s) longer than the model's maximum of 8 tokens were truncated"
    )
    assert f"texts[{too_long[0]}] lost {lengths[too_long[0]] - 8}" in messages[0]
    assert all(len(ids) <= 8 for ids in enc["input_ids"])
    assert enc["input_ids"] == tokenizer(TEXTS, truncation=True, max_length=8)["input_ids"]
    assert caught[0].filename == __file__  # the warning points at the caller's line


def test_truncation_can_be_silent_and_nothing_warns_when_all_fit(tiny):
    tokenizer, _ = tiny
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc, lengths = inference.encode(tokenizer, TEXTS, 8, warn=False)
        assert all(len(ids) <= 8 for ids in enc["input_ids"]) and lengths.max() > 8
        full, _ = inference.encode(tokenizer, TEXTS, 64)
    assert full["input_ids"] == tokenizer(TEXTS)["input_ids"]


def test_explain_truncation_still_warns_once(tiny):
    from course_utils.attribution import explain

    tokenizer, model = tiny
    with pytest.warns(UserWarning, match="were truncated") as record:
        explain(model, tokenizer, TEXTS, "loo", max_length=8, progress=False)
    assert len([w for w in record if "truncated" in str(w.message)]) == 1


# ------------------------------------------------------------------------------------------ eval mode
def test_eval_mode_is_restored_after_an_exception(tiny):
    _, model = tiny
    model.train()
    with pytest.raises(RuntimeError, match="boom"):
        with inference.eval_mode(model):
            assert not model.training and not any(m.training for m in model.modules())
            raise RuntimeError("boom")
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    with inference.inference(model):
        assert torch.is_inference_mode_enabled()
    assert not model.training and not torch.is_inference_mode_enabled()


def test_inference_sites_leave_the_mode_as_they_found_it(tiny):
    tokenizer, model = tiny
    table = _token_table(tokenizer, TEXTS[:2])
    calls = [
        lambda: models.predict_proba(model, tokenizer, TEXTS),
        lambda: influence.training_features(model, tokenizer, TEXTS, progress=False),
        lambda: audit.attention_explanation(model, tokenizer, table),
    ]
    for call in calls:
        model.train()
        call()
        assert model.training  # was left in eval mode before issue 16


def test_a_failing_forward_restores_training_mode(tiny, monkeypatch):
    tokenizer, model = tiny
    model.train()

    def broken(self, *args, **kwargs):
        assert not self.training  # the pass itself runs in eval mode
        raise RuntimeError("out of memory")

    monkeypatch.setattr(model, "forward", types.MethodType(broken, model))
    with pytest.raises(RuntimeError, match="out of memory"):
        models.predict_proba(model, tokenizer, TEXTS)
    assert model.training


def test_forward_rows_need_no_gradient(tiny):
    tokenizer, model = tiny
    ids = inference.encode(tokenizer, TEXTS, 64)[0]["input_ids"]
    rows = inference.forward_rows(
        model, lambda batch: model(**batch).logits, ids, 2, tokenizer.pad_token_id, width=2
    )
    assert not rows.requires_grad and rows.is_inference()


# --------------------------------------------------------------------------------------------- device
def test_inputs_go_to_the_models_device(tiny):
    tokenizer, model = tiny
    ids = inference.encode(tokenizer, TEXTS, 64)[0]["input_ids"]
    table = _token_table(tokenizer, TEXTS[:3])
    with VirtualAccelerator(model) as va:
        device = inference.device_of(model)
        for _rows, batch in inference.batches(ids, 2, tokenizer.pad_token_id, device):
            assert all(va.on_accelerator(t) for t in batch.values())
        rows = inference.forward_rows(
            model, lambda batch: model(**batch).logits, ids, 2, tokenizer.pad_token_id, width=2
        )
        models.predict_proba(model, tokenizer, TEXTS, batch_size=2)
        influence.training_features(model, tokenizer, TEXTS, batch_size=2, progress=False)
        audit.attention_explanation(model, tokenizer, table, batch_size=2)
        _words.TextClassifier(model, tokenizer, internal_batch_size=2)(TEXTS)
    assert not va.on_accelerator(rows) and rows.shape == (len(TEXTS), 2)  # results come back to the host


def test_a_batch_left_on_the_host_is_caught(tiny, monkeypatch):
    """Without the device placement in :func:`_inference.pad`, the sites would fail on a GPU (and here)."""
    tokenizer, model = tiny
    real = inference.pad
    monkeypatch.setattr(
        inference, "pad", lambda columns, pad_values, device=None, **kw: real(columns, pad_values, **kw)
    )
    from device_check import DeviceLeak

    with pytest.raises(DeviceLeak):
        with VirtualAccelerator(model):
            models.predict_proba(model, tokenizer, TEXTS)


# ----------------------------------------------------------------------------------------- max length
def test_max_length_falls_back_to_512_and_respects_the_tokenizer(tiny):
    tokenizer, model = tiny
    assert inference.model_max_length(model) == 64  # the tiny BERT's positions
    no_positions = types.SimpleNamespace(config=types.SimpleNamespace())
    assert inference.model_max_length(no_positions) == inference.DEFAULT_MAX_LENGTH == 512
    short = types.SimpleNamespace(model_max_length=32)
    huge = types.SimpleNamespace(model_max_length=int(1e30))  # "no limit" sentinel of some tokenizers
    assert inference.model_max_length(model, short) == 32
    assert inference.model_max_length(model, huge) == 64
    assert inference.model_max_length(no_positions, huge) == 512
    assert inference.max_length_of(model, tokenizer, None) == 64
    assert inference.max_length_of(model, tokenizer, 16) == 16
    assert _inputs.max_length_of is inference.max_length_of
    with pytest.raises(ValueError, match="between 3 and the model's maximum of 64"):
        inference.max_length_of(model, tokenizer, 65)
    with pytest.raises(TypeError, match="max_length must be an integer"):
        inference.max_length_of(model, tokenizer, 16.0)


def test_sites_use_the_model_maximum_when_no_length_is_given(tiny):
    tokenizer, model = tiny
    long_text = " ".join(
        ["taxes"] * 100
    )  # 102 tokens > the tiny BERT's 64 positions: must be truncated, not crash
    assert models.predict_proba(model, tokenizer, [long_text]).shape == (1, 2)
    assert influence.training_features(model, tokenizer, [long_text], progress=False).shape[0] == 1
    assert _words.TextClassifier(model, tokenizer)([long_text]).shape == (1, 2)


def _token_table(tokenizer, texts):
    import pandas as pd

    enc = tokenizer(texts)
    rows = [(d, p, t, "x", 0.0) for d in range(len(texts)) for p, t in enumerate(enc.tokens(d))]
    return pd.DataFrame(rows, columns=["doc_id", "position", "token", "method", "score"])
