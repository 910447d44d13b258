"""Tests for course_utils.models: offline loading, fine-tuning loop, and the atomic classifier cache."""

import json

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from course_utils import models
from course_utils.models import (
    ClassifierConfig,
    TrainingResult,
    length_sorted_batches,
    load_classifier,
    write_atomically,
)


@pytest.fixture(scope="module")
def packaged_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(models.model_source(None))


def tiny_classifier(seed: int = 0) -> BertForSequenceClassification:
    """A 2-layer random BERT that shares the packaged vocabulary (fast; the weights do not matter)."""
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        num_labels=2,
        id2label={0: "Democratic", 1: "Republican"},
        label2id={"Democratic": 0, "Republican": 1},
    )
    return BertForSequenceClassification(config).eval()


# ------------------------------------------------------------------------------------------- loading
def test_load_encoder_packaged_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    tokenizer, model = models.load_encoder()
    out = model(**tokenizer("The state of the union is strong.", return_tensors="pt"))
    assert out.last_hidden_state.shape[-1] == 384 and not model.training


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_model_source_hub_id_offline_names_the_default(monkeypatch, how):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models, "_in_hf_cache", lambda name: False)
    name = "bert-base-uncased"
    if how == "environment":
        monkeypatch.setenv("COURSE_MODEL", name)
        name = None
    with pytest.raises(ValueError, match=r"'bert-base-uncased' .*hub is offline.*packaged default"):
        models.model_source(name)


def test_model_source_local_folder_and_type_error(tmp_path):
    assert models.model_source(tmp_path) == str(tmp_path)
    with pytest.raises(TypeError, match="name must be a hub id"):
        models.model_source(42)


# ------------------------------------------------------------------------------------------ training
def test_length_sorted_batches_cover_every_index_once():
    lengths = [5, 1, 9, 3, 3, 7, 2]
    batches = length_sorted_batches(lengths, 3, np.random.default_rng(0))
    assert sorted(i for b in batches for i in b) == list(range(7))
    assert all(len(b) <= 3 for b in batches)
    assert max(len(b) for b in batches) == 3
    spans = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert max(spans) <= 4  # similar lengths share a batch


def test_fine_tune_learns_a_separable_toy_task(packaged_tokenizer):
    model = tiny_classifier()
    texts = ["taxes and freedom"] * 16 + ["unions and healthcare"] * 16
    labels = [1] * 16 + [0] * 16
    result = models.fine_tune(
        model,
        packaged_tokenizer,
        texts,
        labels,
        epochs=10,
        batch_size=8,
        learning_rate=2e-3,
        val_texts=texts,
        val_labels=labels,
        progress=False,
    )
    assert result.train_loss[-1] < result.train_loss[0]
    assert result.val_accuracy[-1] == 1.0 and not model.training


def test_fine_tune_rejects_mismatched_labels(packaged_tokenizer):
    with pytest.raises(ValueError, match="one label per text"):
        models.fine_tune(tiny_classifier(), packaged_tokenizer, ["a", "b"], [0], progress=False)


def test_predict_proba_rows_sum_to_one(packaged_tokenizer):
    proba = models.predict_proba(
        tiny_classifier(), packaged_tokenizer, ["one text", "and another, longer text"]
    )
    assert proba.shape == (2, 2) and np.allclose(proba.sum(1), 1, atol=1e-6)


# --------------------------------------------------------------------------------------------- cache
def test_write_atomically_interrupted_leaves_old_entry(tmp_path):
    folder = tmp_path / "entry"
    write_atomically(folder, lambda tmp: (tmp.mkdir(), (tmp / "a.txt").write_text("old")))

    def interrupted(tmp):
        tmp.mkdir()
        (tmp / "a.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(folder, interrupted)
    assert (folder / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]  # no temporary folder left behind


def test_write_atomically_interrupted_first_write_leaves_nothing(tmp_path):
    def interrupted(tmp):
        tmp.mkdir()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "entry", interrupted)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fake_training(monkeypatch, tmp_path, packaged_tokenizer):
    """load_classifier with a cache in tmp_path and a 0.1-second 'fine-tune' of a tiny model."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    calls = []

    def train(config, progress=True):
        calls.append(config)
        if getattr(train, "interrupt", False):
            raise KeyboardInterrupt
        return (
            packaged_tokenizer,
            tiny_classifier(),
            TrainingResult(seconds=0.1, n_train=3, epochs=1, val_accuracy=[0.5]),
        )

    monkeypatch.setattr(models, "train_classifier", train)
    return calls, train


def test_load_classifier_trains_once_then_loads(fake_training, capsys):
    calls, _ = fake_training
    tok, model = load_classifier(epochs=1)
    again_tok, again = load_classifier(epochs=1)
    assert len(calls) == 1
    assert model.config.id2label == {0: "Democratic", 1: "Republican"}
    assert again.training_result.val_accuracy == [0.5]
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_load_classifier_different_hyper_parameters_get_different_entries(fake_training):
    calls, _ = fake_training
    load_classifier(epochs=1)
    load_classifier(epochs=2)
    assert len(calls) == 2 and calls[0].key() != calls[1].key()


@pytest.mark.parametrize("damage", ["truncate_weights", "delete_meta", "other_config"])
def test_load_classifier_rebuilds_a_broken_entry(fake_training, capsys, damage):
    calls, _ = fake_training
    load_classifier(epochs=1)
    folder = models.classifier_dir(ClassifierConfig(epochs=1))
    if damage == "truncate_weights":
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "delete_meta":
        (folder / models.META_FILE).unlink()
    else:
        meta = json.loads((folder / models.META_FILE).read_text())
        meta["config"]["epochs"] = 99
        (folder / models.META_FILE).write_text(json.dumps(meta))
    load_classifier(epochs=1)
    assert len(calls) == 2
    assert "rebuilding it" in capsys.readouterr().out


def test_load_classifier_interrupted_training_leaves_no_entry(fake_training, tmp_path):
    calls, train = fake_training
    train.interrupt = True
    with pytest.raises(KeyboardInterrupt):
        load_classifier(epochs=1)
    left = [p.name for p in (tmp_path / "classifiers").iterdir() if not p.name.endswith(".lock")]
    assert left == []  # neither an entry nor a temporary folder
    with pytest.raises(FileNotFoundError, match="train_if_missing=True"):
        load_classifier(epochs=1, train_if_missing=False)


def test_load_classifier_unknown_hyper_parameter():
    with pytest.raises(TypeError, match=r"unknown hyper-parameter\(s\) \['epoch'\]"):
        load_classifier(epoch=3)
