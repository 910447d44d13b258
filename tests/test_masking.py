"""Tests for course_utils.attribution._masking: perturbed copies (replace/delete), units, batched forwards."""

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from course_utils.attribution import _masking as M

# [CLS] w1 w2 w3 w4 [SEP] [PAD] [PAD]
IDS = torch.tensor([101, 2000, 2001, 2002, 2003, 102, 0, 0])
MASK = torch.tensor([1, 1, 1, 1, 1, 1, 0, 0])
TYPES = torch.tensor([0, 0, 0, 1, 1, 1, 0, 0])
WORDS = torch.tensor([-1, 0, 1, 1, 2, -1, -1, -1])  # w2 w3 are two pieces of one word


@pytest.fixture(scope="module")
def tiny_classifier():
    torch.manual_seed(3)
    config = BertConfig(
        vocab_size=3000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
        attn_implementation="eager",
    )
    return BertForSequenceClassification(config).eval()


def one_hot_rows(*positions, width=8):
    rows = torch.zeros(len(positions), width, dtype=torch.bool)
    for r, p in enumerate(positions):
        rows[r, p] = True
    return rows


# ------------------------------------------------------------------------------------------- perturb
def test_perturb_replacement_writes_id_only_at_removed_positions():
    out = M.perturb(IDS, one_hot_rows(1, 4), MASK, TYPES, replacement_id=103)
    assert out["input_ids"].shape == (2, 8)
    assert out["input_ids"][0, 1] == 103 and out["input_ids"][1, 4] == 103
    changed = out["input_ids"] != IDS
    assert changed.sum() == 2
    assert torch.equal(out["attention_mask"], MASK.expand(2, -1))
    assert torch.equal(out["token_type_ids"], TYPES.expand(2, -1))


def test_perturb_replacement_never_touches_padding():
    out = M.perturb(IDS, one_hot_rows(6), MASK, replacement_id=103)
    assert torch.equal(out["input_ids"][0], IDS)


def test_perturb_delete_packs_kept_tokens_in_order():
    out = M.perturb(IDS, one_hot_rows(2, 3), MASK, TYPES, replacement_id=None, pad_id=0)
    assert out["input_ids"].shape == (2, 5)  # trimmed to the longest copy: 6 real tokens − 1
    assert out["input_ids"][0].tolist() == [101, 2000, 2002, 2003, 102]
    assert out["input_ids"][1].tolist() == [101, 2000, 2001, 2003, 102]
    assert out["attention_mask"].tolist() == [[1] * 5, [1] * 5]
    assert out["token_type_ids"][0].tolist() == [0, 0, 1, 1, 1]


def test_perturb_delete_pads_shorter_copies():
    remove = torch.zeros(2, 8, dtype=torch.bool)
    remove[0, [1, 2, 3]] = True
    remove[1, 4] = True
    out = M.perturb(IDS, remove, MASK, replacement_id=None)
    assert out["input_ids"][0].tolist() == [101, 2003, 102, 0, 0]
    assert out["attention_mask"][0].tolist() == [1, 1, 1, 0, 0]


def test_perturb_batch_rows_are_perturbed_one_to_one():
    ids = torch.stack([IDS, IDS.flip(0)])
    out = M.perturb(ids, one_hot_rows(1, 2), replacement_id=100)
    assert out["input_ids"][0, 1] == 100 and out["input_ids"][1, 2] == 100
    assert out["input_ids"][1, 0] == IDS.flip(0)[0]


@pytest.mark.parametrize(
    "ids, remove, error, match",
    [
        (IDS, torch.zeros(1, 8, dtype=torch.long), TypeError, "bool tensor"),
        (IDS, torch.zeros(1, 7, dtype=torch.bool), ValueError, "7 positions"),
        (torch.stack([IDS, IDS, IDS]), torch.zeros(2, 8, dtype=torch.bool), ValueError, "3 rows"),
    ],
)
def test_perturb_bad_input_raises(ids, remove, error, match):
    with pytest.raises(error, match=match):
        M.perturb(ids, remove)


# -------------------------------------------------------------------------------------- token ids
@pytest.mark.parametrize("name, expected", [("mask", 103), ("unk", 100), ("pad", 0), ("delete", None)])
def test_replacement_token_id_standard_vocabulary(name, expected):
    assert M.replacement_token_id(name) == expected


def test_replacement_token_id_override_and_config():
    assert M.replacement_token_id("mask", replacement_id=7) == 7
    model = type("Fake", (), {"config": type("C", (), {"pad_token_id": 5})()})()
    assert M.replacement_token_id("pad", model) == 5


def test_replacement_token_id_unknown_name_raises():
    with pytest.raises(ValueError, match=r"replacement='blank' is not supported; choose one of \['mask'"):
        M.replacement_token_id("blank")


# ---------------------------------------------------------------------------------- units (groups)
def test_special_positions_first_and_last_real_token():
    assert M.special_positions(MASK).tolist() == [True, False, False, False, False, True, False, False]
    assert M.special_positions(MASK, WORDS).tolist() == [True, False, False, False, False, True, False, False]


def test_special_positions_batch():
    mask = torch.stack([MASK, torch.ones(8, dtype=torch.long)])
    special = M.special_positions(mask)
    assert special[0].nonzero().flatten().tolist() == [0, 5]
    assert special[1].nonzero().flatten().tolist() == [0, 7]


def test_groups_token_level_one_row_per_content_token():
    rows = M.groups(MASK, None, "token")
    assert rows.shape == (4, 8)
    assert rows.nonzero()[:, 1].tolist() == [1, 2, 3, 4]


def test_groups_word_level_joins_word_pieces():
    rows = M.groups(MASK, WORDS, "word")
    assert rows.shape == (3, 8)
    assert rows[1].nonzero().flatten().tolist() == [2, 3]


def test_groups_bad_level_raises():
    with pytest.raises(ValueError, match="level='sentence'"):
        M.groups(MASK, WORDS, "sentence")


def test_spread_shares_group_values_over_positions():
    rows = M.groups(MASK[:6], WORDS[:6], "word")  # (3, 6)
    out = M.spread(rows, torch.tensor([1.0, 2.0, 3.0]), torch.arange(6), 8)
    assert out.tolist() == [0, 1, 1, 1, 3, 0, 0, 0]  # the two-piece word: 2 split into 1 + 1


def test_check_common_word_without_word_ids_warns_and_falls_back():
    with pytest.warns(UserWarning, match="word_ids"):
        assert M.check_common("word", 8, {"input_ids": IDS[None]}) == "token"


@pytest.mark.parametrize(
    "level, size, error, match",
    [
        ("char", 8, ValueError, "level='char'"),
        ("token", 0, ValueError, "is too small: use an integer ≥ 1"),
        ("token", 2.5, TypeError, "int"),
    ],
)
def test_check_common_bad_options_raise(level, size, error, match):
    with pytest.raises(error, match=match):
        M.check_common(level, size, {"input_ids": IDS[None], "word_ids": WORDS[None]})


# ------------------------------------------------------------------------------------ forward passes
def test_pad_rows_right_pads_with_key_values():
    rows = [
        {"input_ids": torch.tensor([1, 2, 3]), "f": torch.tensor([0.5, 0.5, 0.5])},
        {"input_ids": torch.tensor([4]), "f": torch.tensor([0.1])},
    ]
    out = M.pad_rows(rows, {"f": 1.0})
    assert out["input_ids"].tolist() == [[1, 2, 3], [4, 0, 0]]
    assert out["f"][1].tolist() == pytest.approx([0.1, 1.0, 1.0])


def test_target_log_probs_match_direct_forward_and_chunking(tiny_classifier):
    rows = [
        {"input_ids": IDS[:6], "attention_mask": MASK[:6]},
        {"input_ids": IDS[:4], "attention_mask": MASK[:4]},
    ]
    with torch.no_grad():
        direct = torch.stack(
            [
                tiny_classifier(input_ids=r["input_ids"][None]).logits[0].log_softmax(-1)[t]
                for r, t in zip(rows, [1, 0])
            ]
        )
    for size in (1, 2):
        got = M.target_log_probs(tiny_classifier, rows, [1, 0], internal_batch_size=size)
        assert torch.allclose(got, direct, atol=1e-5)


def test_target_log_probs_restores_training_mode(tiny_classifier):
    tiny_classifier.train()
    try:
        M.target_log_probs(tiny_classifier, [{"input_ids": IDS[:6], "attention_mask": MASK[:6]}], [0])
        assert tiny_classifier.training
    finally:
        tiny_classifier.eval()
