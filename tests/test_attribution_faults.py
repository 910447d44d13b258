"""The fault table of explain() (issue 18): every method of conftest.METHOD_CASES against bad texts, targets,
batch sizes, maximum lengths, index types and foreign tokenizers.

Each case ends in a clear error raised by course_utils itself (never a traceback from deep inside torch or
transformers) whose message names what to do — or in a correct result.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import METHOD_CASES

from course_utils.attribution import explain
from course_utils.attribution._inputs import check_pair
from course_utils.fingerprints import record_tokenizer

TEXTS = ["Taxes must be cut.", "We will defend our freedom."]

BAD = [
    # texts
    ("texts", None, TypeError, "texts must be a string, a list/tuple of strings or a pandas Series"),
    ("texts", 42, TypeError, "texts must be a string"),
    ("texts", b"bytes", TypeError, "texts must be a string"),
    ("texts", np.array(TEXTS), TypeError, "texts must be a string"),
    ("texts", [], ValueError, "texts is empty: give at least one text"),
    ("texts", ["ok", None], TypeError, r"texts\[1\] is missing .*drop it or fill it"),
    ("texts", ["ok", float("nan")], TypeError, r"texts\[1\] is missing"),
    ("texts", ["ok", 3], TypeError, r"texts\[1\] is a int .*convert it with str\(\) or drop it"),
    ("texts", ["ok", "   "], ValueError, r"texts\[1\] is empty: every text needs at least one token"),
    ("texts", pd.DataFrame({"text": TEXTS}), TypeError, r"pass its text column, e.g. df\['text'\]"),
    # targets
    ("target", "Green", ValueError, r"target 'Green' is not a label of this model; its labels are"),
    ("target", "republican", ValueError, r"target 'republican' is not a label"),
    ("target", 2, ValueError, r"target 2 is not a class index of this model; use 0–1"),
    ("target", -1, ValueError, "not a class index"),
    ("target", 1.0, TypeError, "target must be None, a label name, a class index"),
    ("target", np.float64(1.0), TypeError, "target must be None"),
    ("target", True, TypeError, "target must be None"),
    ("target", {"a": 1}, TypeError, "target must be None"),
    ("target", ["Republican"], ValueError, "target has 1 entries but there are 2 texts"),
    ("target", [0, "Green"], ValueError, "'Green' is not a label"),
    ("target", torch.tensor([0, 5]), ValueError, "target 5 is not a class index"),
    ("target", [0, 1.5], TypeError, r"target 1.5 is a float; give a label name or a class index"),
    # batch sizes
    ("batch_size", 0, ValueError, "batch_size=0 is too small: use an integer ≥ 1"),
    ("batch_size", -3, ValueError, "batch_size=-3 is too small: use an integer ≥ 1"),
    ("batch_size", True, TypeError, r"batch_size must be an integer ≥ 1, got bool"),
    ("batch_size", 1.5, TypeError, "got float"),
    ("batch_size", "16", TypeError, "got str"),
    ("batch_size", None, TypeError, "got NoneType"),
    # maximum lengths
    ("max_length", 2, ValueError, "max_length=2 must be between 3 and the model's maximum of 64 tokens"),
    ("max_length", 0, ValueError, "must be between 3"),
    ("max_length", 10_000, ValueError, "maximum of 64 tokens"),
    ("max_length", True, TypeError, "max_length must be an integer or None"),
    ("max_length", 8.5, TypeError, "max_length must be an integer"),
    ("max_length", "64", TypeError, "max_length must be an integer"),
]


@pytest.mark.parametrize("case", METHOD_CASES)
@pytest.mark.parametrize("argument, value, error, match", BAD, ids=[f"{a}={v!r}"[:40] for a, v, *_ in BAD])
def test_explain_bad_input_clear_error(tiny_classifier, case, argument, value, error, match):
    tokenizer, model = tiny_classifier
    method, options = case
    kwargs = {"texts": TEXTS, "target": None, "batch_size": 16, "max_length": None, argument: value}
    texts = kwargs.pop("texts")
    with pytest.raises(error, match=match) as info:
        explain(model, tokenizer, texts, method, progress=False, **kwargs, **options)
    assert "course_utils" in str(info.traceback[-1].path)  # raised by our checks, not deep inside torch


GOOD = [  # accepted forms: the result is correct
    ("target", np.int64(1), [1, 1]),
    ("target", torch.tensor([1, 0]), [1, 0]),
    ("target", pd.Series(["Republican", "Democratic"]), [1, 0]),
    ("target", np.array([0, 1], dtype=np.int32), [0, 1]),
]


@pytest.mark.parametrize("case", METHOD_CASES)
@pytest.mark.parametrize(
    "argument, value, expected", GOOD, ids=[f"{a}-{type(v).__name__}" for a, v, _ in GOOD]
)
def test_explain_accepted_target_forms(tiny_classifier, case, argument, value, expected):
    tokenizer, model = tiny_classifier
    method, options = case
    table = explain(model, tokenizer, TEXTS, method, value, progress=False, **options).tokens
    assert table.groupby("doc_id")["target"].first().tolist() == expected


@pytest.mark.parametrize(
    "index, expected",
    [
        (pd.Index([10, 20]), [10, 20]),  # unique ints: joins back to the frame
        (pd.Index([7, 7]), [0, 1]),  # duplicated: positions instead
        (pd.Index(["a", "b"]), [0, 1]),  # strings: positions
        (pd.Index([0.5, 1.5]), [0, 1]),  # floats: positions
        (pd.Index(np.array([3, 4], dtype=np.int32)), [3, 4]),  # other int widths
        (pd.MultiIndex.from_tuples([(1, "x"), (2, "y")]), [0, 1]),
    ],
)
def test_explain_index_types_give_sensible_doc_ids(tiny_classifier, index, expected):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, pd.Series(TEXTS, index=index), "loo", progress=False).tokens
    assert table["doc_id"].unique().tolist() == expected and table["doc_id"].dtype == np.int64


@pytest.mark.parametrize("value", [np.int64(1), 1])
def test_explain_numpy_batch_size_and_max_length(tiny_classifier, value):
    tokenizer, model = tiny_classifier
    result = explain(model, tokenizer, TEXTS, "loo", batch_size=value, max_length=np.int64(5), progress=False)
    table = result.tokens
    assert table.groupby("doc_id").size().max() == 5


# ------------------------------------------------------------------------------------- foreign tokenizers
@pytest.fixture(scope="module")
def swapped_tokenizer(packaged_tokenizer, tmp_path_factory):
    """The packaged tokenizer with the ids of 'tax' and 'war' swapped: same size, same specials, other vocabulary."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("swapped")
    packaged_tokenizer.save_pretrained(folder)
    spec = json.loads((folder / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    vocab["tax"], vocab["war"] = vocab["war"], vocab["tax"]
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    (folder / "vocab.txt").unlink(missing_ok=True)
    return AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def small_tokenizer(packaged_tokenizer):
    """A WordPiece tokenizer of 1,000 other tokens (a foreign, smaller vocabulary)."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(995)]
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


@pytest.fixture(scope="module")
def recorded_model(tiny_classifier):
    """The tiny classifier with its tokenizer's fingerprint in its config, as the course's models have."""
    tokenizer, model = tiny_classifier
    recorded = copy.deepcopy(model)
    record_tokenizer(recorded, tokenizer)
    return recorded


@pytest.mark.parametrize("case", METHOD_CASES)
def test_explain_refuses_same_size_foreign_vocabulary(
    tiny_classifier, recorded_model, swapped_tokenizer, case
):
    tokenizer, _ = tiny_classifier
    method, options = case
    assert len(swapped_tokenizer) == len(tokenizer)
    with pytest.raises(
        ValueError,
        match=r"not the one the model was trained with: it has the same size but other "
        r"tokens at some ids.*same checkpoint",
    ):
        explain(recorded_model, swapped_tokenizer, TEXTS, method, progress=False, **options)
    assert check_pair(recorded_model, tokenizer) is None  # its own tokenizer is fine


@pytest.mark.parametrize("case", METHOD_CASES)
def test_explain_refuses_smaller_foreign_vocabulary(tiny_classifier, small_tokenizer, recorded_model, case):
    _, model = tiny_classifier
    method, options = case
    with pytest.raises(
        ValueError,
        match=r"knows 1000 tokens but the model has 30522 word embeddings.*another "
        r"vocabulary.*same checkpoint",
    ):
        explain(
            model, small_tokenizer, TEXTS, method, progress=False, **options
        )  # a model without the record
    with pytest.raises(ValueError, match=r"it has 1000 tokens where the model's tokenizer had 30522"):
        explain(recorded_model, small_tokenizer, TEXTS, method, progress=False, **options)


def test_explain_refuses_another_pad_id(tiny_classifier):
    tokenizer, model = tiny_classifier
    other = copy.deepcopy(tokenizer)
    other.pad_token = "[UNK]"
    with pytest.raises(ValueError, match=r"pad_token_id is 100 but the model's config says 0"):
        explain(model, other, TEXTS, "loo", progress=False)
    recorded = copy.deepcopy(model)
    record_tokenizer(recorded, tokenizer)
    with pytest.raises(ValueError, match=r"its pad_token_id is 100 where the model's is 0"):
        explain(recorded, other, TEXTS, "loo", progress=False)


def test_classifier_from_new_classifier_records_its_tokenizer():
    from course_utils.fingerprints import CONFIG_ATTRIBUTE, tokenizer_fingerprint
    from course_utils.models import new_classifier

    tokenizer, model = new_classifier(seed=0)
    recorded = getattr(model.config, CONFIG_ATTRIBUTE)
    assert recorded["vocab_sha256"] == tokenizer_fingerprint(tokenizer)["vocab_sha256"]
    assert recorded["size"] == 30522 and recorded["special"]["cls_token_id"] == 101
    assert CONFIG_ATTRIBUTE in model.config.to_dict()  # saved in config.json with the model


# ------------------------------------------------------------------------------------------- progress
def test_explain_shows_progress_for_few_long_texts_and_counts_forward_passes(tiny_classifier, capsys):
    """Two long texts with AtMan: the automatic bar appears (it used to need > 20 texts) and moves inside the batch."""
    tokenizer, model = tiny_classifier
    long = ["word " * 60] * 2  # 2 × 62 tokens: over the automatic threshold only once it is lowered
    import course_utils.attribution as attribution

    explain(model, tokenizer, long, "atman", internal_batch_size=8)
    assert "explain (atman)" not in capsys.readouterr().err  # small work: no bar
    old = attribution.AUTO_PROGRESS_TOKENS
    attribution.AUTO_PROGRESS_TOKENS = 100
    try:
        explain(model, tokenizer, long, "atman", internal_batch_size=8)
    finally:
        attribution.AUTO_PROGRESS_TOKENS = old
    err = capsys.readouterr().err
    assert (
        "explain (atman)" in err and "2/2" in err and "forward passes 122/122 in this batch" in err
    )  # 61 per text
    assert err.count("forward passes") >= 2  # it moved before the batch was done
