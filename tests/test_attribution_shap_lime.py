"""Tests for course_utils.attribution._shap, _lime and _words: SHAP and LIME over BERT words.

The generic tests (one row per token, targets, determinism, batch-size invariance, bad texts) run through
conftest.METHOD_CASES; here: the words SHAP and LIME perturb line up with the tokenizer's words, SHAP's
additivity, word scores that are the libraries' own, a key-word model whose answer is known, batched
forwards in inference mode, the methods' own bad options, and exact Shapley values on games whose values are
known by hand.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import LABELS

from course_utils.attribution import _lime, _shap, _words, documents, explain, method_options, word_scores

PUNCTUATED = "We will defend our freedom, and unbelievably we shall prevail!"
PUNCTUATED_WORDS = [
    "we",
    "will",
    "defend",
    "our",
    "freedom",
    ",",
    "and",
    "unbelievably",
    "we",
    "shall",
    "prevail",
    "!",
]
TEXTS = ["The economy is growing stronger every year.", "Taxes must be cut.", PUNCTUATED]
HIGH, LOW = 0.9, 0.1


def word_document(tokenizer, text: str) -> _words.WordDocument:
    enc = tokenizer(text, return_tensors="pt")
    word_ids = torch.tensor([-1 if w is None else w for w in enc.word_ids(0)])
    row = {"input_ids": enc["input_ids"][0], "attention_mask": enc["attention_mask"][0]}
    return _words.WordDocument(tokenizer, torch.arange(len(word_ids)), row, word_ids)


class KeyWordModel(torch.nn.Module):
    """A stand-in classifier: p(Republican) = 0.9 when any of ``key_ids`` is among the tokens, else 0.1.

    Records the size of every forward pass and whether it ran under ``torch.inference_mode()``.
    """

    def __init__(self, key_ids: list[int], vocab_size: int):
        super().__init__()
        self.key_ids = torch.tensor(key_ids)
        self.embeddings = torch.nn.Embedding(
            vocab_size, 1
        )  # check_pair compares its rows with the vocabulary
        self.config = SimpleNamespace(
            num_labels=2, id2label=dict(enumerate(LABELS)), max_position_embeddings=64, pad_token_id=0
        )
        self.calls: list[tuple[int, bool]] = []

    def get_input_embeddings(self):
        return self.embeddings

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        self.calls.append((input_ids.shape[0], torch.is_inference_mode_enabled()))
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        present = (torch.isin(input_ids, self.key_ids) & mask.bool()).any(1).float()  # (b,)
        logit = np.log(HIGH / LOW) * (2 * present - 1) / 2  # (b,) → p(Republican) = 0.9 or 0.1
        return SimpleNamespace(logits=torch.stack([-logit, logit], dim=1))  # (b, 2)


@pytest.fixture()
def key_model(packaged_tokenizer):
    """Depends on the piece "##bly" of "unbelievably" (5 WordPieces) only."""
    pieces = packaged_tokenizer.tokenize("unbelievably")
    assert len(pieces) == 5 and pieces[-1] == "##bly"
    return KeyWordModel([packaged_tokenizer.convert_tokens_to_ids("##bly")], len(packaged_tokenizer))


# ------------------------------------------------------------------------------------------- the words
def test_word_document_matches_tokenizer_words(packaged_tokenizer):
    doc = word_document(packaged_tokenizer, PUNCTUATED)
    assert doc.words == PUNCTUATED_WORDS
    assert doc.text == " ".join(PUNCTUATED_WORDS)
    assert doc.check_round_trip(packaged_tokenizer, "test")
    assert (
        doc.groups.shape == (12, 20) and doc.groups.sum().item() == 18
    )  # 18 WordPieces, [CLS]/[SEP] in no word
    assert doc.groups[7].sum().item() == 5  # "unbelievably" = un ##bel ##ie ##va ##bly


def test_shap_masker_splits_the_bert_words(packaged_tokenizer):
    doc = word_document(packaged_tokenizer, PUNCTUATED)
    masker = _shap.text_masker(packaged_tokenizer)
    assert masker.feature_names(doc.text) == [PUNCTUATED_WORDS]
    keep = np.ones(len(doc), dtype=bool)
    keep[[5, 7]] = False  # "," and "unbelievably"
    masked = masker(keep, doc.text)[0][0]
    expected = [
        "we",
        "will",
        "defend",
        "our",
        "freedom",
        "[MASK]",
        "and",
        "[MASK]",
        "we",
        "shall",
        "pre",
        "##va",
        "##il",
        "!",
    ]
    assert packaged_tokenizer.tokenize(masked) == expected


def test_lime_splits_the_bert_words(packaged_tokenizer):
    from lime.lime_text import IndexedString

    doc = word_document(packaged_tokenizer, PUNCTUATED)
    indexed = IndexedString(
        doc.text, split_expression=_lime.split_words, bow=False, mask_string=packaged_tokenizer.mask_token
    )
    assert [indexed.word(i) for i in range(indexed.num_words())] == PUNCTUATED_WORDS
    masked = indexed.inverse_removing([5, 7])
    assert masked == "we will defend our freedom [MASK] and [MASK] we shall prevail !"
    default = IndexedString(PUNCTUATED, bow=False)  # LIME's own \W+ split drops "," and "!": not BERT's words
    assert default.num_words() == 10


@pytest.mark.parametrize("method", ["shap", "lime"])
def test_word_scores_are_the_methods_word_scores(tiny_classifier, method):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, [PUNCTUATED], method, "Republican")
    docs = documents(table)
    assert docs["granularity"].tolist() == ["word"] and docs["n_words"].tolist() == [12]
    words = word_scores(table)
    assert words["word"].tolist() == [
        "We",
        "will",
        "defend",
        "our",
        "freedom",
        ",",
        "and",
        "unbelievably",
        "we",
        "shall",
        "prevail",
        "!",
    ]
    pieces = table.tokens[table.tokens["word"] == "unbelievably"]["score"].to_numpy()
    assert len(pieces) == 5 and np.allclose(pieces, pieces[0])  # shared equally by the WordPieces
    assert words.loc[words["word"] == "unbelievably", "score"].item() == pytest.approx(5 * pieces[0])
    assert (table.tokens.loc[table.tokens["special"], "score"] == 0).all()
    batch = {k: torch.tensor([v]) for k, v in _batch(tokenizer, PUNCTUATED).items()}
    native = _native_word_scores(method, model, tokenizer, batch)
    np.testing.assert_allclose(words["score"].to_numpy(), native, rtol=1e-5, atol=1e-7)


def _batch(tokenizer, text):
    enc = tokenizer(text)
    return {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "token_type_ids": enc["token_type_ids"],
        "word_ids": [-1 if w is None else w for w in enc.word_ids()],
    }


def _native_word_scores(method, model, tokenizer, batch):
    """The library's own word scores, called directly on the rebuilt text with the defaults of explain()."""
    doc = _words.word_documents(batch, tokenizer)[0]
    if method == "shap":
        classifier = _words.TextClassifier(model, tokenizer, target=1)
        values, _ = _shap.shap_words(doc, classifier, _shap.text_masker(tokenizer), 500, 32, 0)
        return values
    classifier = _words.TextClassifier(model, tokenizer)
    coef, *_ = _lime.lime_words(doc, classifier, 1, 1000, 0, 25.0)
    return coef


# ------------------------------------------------------------------------------------------- SHAP
def test_shap_additivity(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, TEXTS + ["Hi"], "shap", max_evals=30)  # a small budget: still additive
    docs = documents(table)
    totals = table.tokens.groupby("doc_id")["score"].sum().to_numpy()
    np.testing.assert_allclose(docs["additivity_error"], 0.0, atol=1e-6)
    np.testing.assert_allclose(totals, docs["f_input"] - docs["base_value"], atol=1e-6)
    np.testing.assert_allclose(docs["f_input"], docs["probability"], atol=1e-5)  # the rebuilt text = the text
    assert (docs["forward_passes"] <= 30).all() and docs["n_words"].tolist() == [8, 5, 12, 1]
    assert docs["forward_passes"].iloc[-1] == 2  # one word: f(x) and f([MASK])


def test_shap_restores_numpy_random_state(tiny_classifier):
    tokenizer, model = tiny_classifier
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    explain(model, tokenizer, TEXTS[:1], "shap", max_evals=20)
    assert np.random.rand() == expected


def test_shap_seed_changes_only_tie_breaks(tiny_classifier):
    tokenizer, model = tiny_classifier
    a = explain(model, tokenizer, TEXTS, "shap", max_evals=20, seed=0)
    b = explain(model, tokenizer, TEXTS, "shap", max_evals=20, seed=1)
    np.testing.assert_allclose(
        a.tokens.groupby("doc_id")["score"].sum(), b.tokens.groupby("doc_id")["score"].sum(), atol=1e-6
    )


# ------------------------------------------------------------------------------ exact Shapley values
def test_coalitions_enumerate_every_subset_once():
    masks = _shap.coalitions(3)
    assert masks.shape == (8, 3) and masks.dtype == bool
    assert not masks[0].any() and masks[-1].all()  # v(∅) first, v(N) last
    assert masks[5].tolist() == [True, False, True]  # row k holds player j iff bit j of k is 1: 5 = 0b101
    assert len({tuple(row) for row in masks.tolist()}) == 8


def test_exact_shapley_of_an_additive_game_is_each_players_weight():
    weights = np.array([0.5, -1.0, 2.0, 0.25])
    values, payoffs = _shap.exact_shapley(lambda masks: 3.0 + masks @ weights, 4)
    np.testing.assert_allclose(values, weights, atol=1e-12)
    assert payoffs[0] == 3.0 and payoffs[-1] == pytest.approx(3.0 + weights.sum())


def test_exact_shapley_of_the_glove_game():
    # player 0 holds a left glove, players 1 and 2 a right glove each; a pair is worth 1. Over the 6 orders,
    # 0 completes a pair unless it comes first (4 of 6); 1 only in the order 0, 1, 2 (1 of 6); 2 likewise.
    def glove(masks):
        return (masks[:, 0] & (masks[:, 1] | masks[:, 2])).astype(float)

    values, _ = _shap.exact_shapley(glove, 3)
    np.testing.assert_allclose(values, [2 / 3, 1 / 6, 1 / 6], atol=1e-12)


def test_exact_shapley_is_efficient_and_asks_for_all_payoffs_at_once():
    payoffs = np.random.default_rng(0).normal(size=2**5)
    calls = []
    values, returned = _shap.exact_shapley(lambda masks: calls.append(masks.shape) or payoffs, 5)
    assert calls == [(32, 5)]
    assert values.sum() == pytest.approx(payoffs[-1] - payoffs[0], abs=1e-12)
    np.testing.assert_array_equal(returned, payoffs)


def test_exact_shapley_matches_the_partition_explainer_on_two_words(tiny_classifier):
    # with two players the Partition tree is a single split, so its Owen values are the Shapley values
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, ["taxes rise"], "shap", "Republican")
    words = word_scores(table)["word"].tolist()
    assert words == ["taxes", "rise"]
    classifier = _words.TextClassifier(model, tokenizer, target=1)
    values, payoffs = _shap.exact_shapley(
        lambda masks: classifier(
            [" ".join(w if k else tokenizer.mask_token for w, k in zip(words, keep)) for keep in masks]
        ),
        2,
    )
    np.testing.assert_allclose(word_scores(table)["score"], values, atol=1e-6)
    assert documents(table)["base_value"].item() == pytest.approx(payoffs[0], abs=1e-6)


BAD_GAMES = [
    (lambda m: m.sum(1), 0, ValueError, r"n_players=0 is too small"),
    (lambda m: m.sum(1), 17, ValueError, r"2\*\*17 coalitions; exact Shapley values are for at most 16"),
    (lambda m: m.sum(1), True, TypeError, "n_players must be an integer"),
    (lambda m: m.sum(1)[:-1], 3, ValueError, r"payoff must return 8 finite numbers .* got shape \(7,\)"),
    (lambda m: np.full(len(m), np.nan), 2, ValueError, "with NaN/inf"),
    ([1.0, 2.0], 1, TypeError, "payoff must be a function of the coalitions"),
]


@pytest.mark.parametrize("payoff, n_players, error, match", BAD_GAMES)
def test_exact_shapley_bad_input(payoff, n_players, error, match):
    with pytest.raises(error, match=match):
        _shap.exact_shapley(payoff, n_players)


# ------------------------------------------------------------------------------------------- LIME
def test_lime_diagnostics(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, TEXTS, "lime", num_samples=80, internal_batch_size=16)
    docs = documents(table)
    assert docs["forward_passes"].tolist() == [80, 80, 80]
    assert docs["model_calls"].tolist() == [5, 5, 5]
    assert docs["r2"].between(0, 1).all()
    assert np.isfinite(docs["intercept"]).all() and docs["local_prediction"].between(-1, 2).all()


def test_lime_seed_changes_scores(tiny_classifier):
    tokenizer, model = tiny_classifier
    a = explain(model, tokenizer, TEXTS[:1], "lime", num_samples=50, seed=0)
    b = explain(model, tokenizer, TEXTS[:1], "lime", num_samples=50, seed=1)
    assert not np.allclose(a.tokens["score"], b.tokens["score"])


# ------------------------------------------------------------------------------- a known answer
@pytest.mark.parametrize("method, options", [("shap", {}), ("lime", {"num_samples": 300})])
def test_key_word_gets_the_largest_score(key_model, packaged_tokenizer, method, options):
    table = explain(
        key_model,
        packaged_tokenizer,
        [PUNCTUATED, "Unbelievably, taxes must be cut."],
        method,
        "Republican",
        **options,
    )
    words = word_scores(table)
    for _, doc in words.groupby("doc_id"):
        top = doc.loc[doc["score"].idxmax()]
        assert top["word"].lower() == "unbelievably", method
        others = doc[doc["word"].str.lower() != "unbelievably"]["score"].abs()
        assert top["score"] > 0.5 and others.max() < 0.1 * top["score"]
    if method == "shap":  # a null player gets exactly 0; the key word gets f(x) − f(all masked) = 0.9 − 0.1
        np.testing.assert_allclose(words.groupby("doc_id")["score"].max(), HIGH - LOW, atol=1e-6)
        np.testing.assert_allclose(
            words.loc[words["word"].str.lower() != "unbelievably", "score"], 0.0, atol=1e-9
        )
    pieces = table.tokens[table.tokens["word"].str.lower() == "unbelievably"]["score"].to_numpy()
    assert len(pieces) == 10 and np.allclose(pieces[:5], pieces[0])  # 5 WordPieces per occurrence share it


@pytest.mark.parametrize(
    "method, options, per_call",
    [
        ("shap", {"internal_batch_size": 6}, 6),
        ("shap", {"internal_batch_size": 7}, 7),
        ("lime", {"num_samples": 50, "internal_batch_size": 8}, 8),
    ],
)
def test_batched_forwards_in_inference_mode(key_model, packaged_tokenizer, method, options, per_call):
    key_model.calls.clear()
    table = explain(key_model, packaged_tokenizer, [PUNCTUATED], method, **options)
    explain_call, *method_calls = key_model.calls  # explain() first runs the batch once for the prediction
    sizes = [n for n, _ in method_calls]
    docs = documents(table)
    assert all(inference for _, inference in key_model.calls)
    assert max(sizes) <= per_call and max(sizes) > 1
    assert sum(sizes) == docs["forward_passes"].item() + (1 if method == "shap" else 0)  # + SHAP's f(x) check
    assert len(sizes) == docs["model_calls"].item() + (1 if method == "shap" else 0)


# -------------------------------------------------------------------------------- inputs and options
def test_truncated_text_is_explained(tiny_classifier):
    tokenizer, model = tiny_classifier  # 64 positions
    long = " ".join(["unbelievably"] * 20)  # 5 WordPieces each: 102 tokens, cut inside the 13th word
    for method, options in (("shap", {"max_evals": 40}), ("lime", {"num_samples": 40})):
        with pytest.warns(UserWarning, match="truncated"):
            table = explain(model, tokenizer, [long], method, **options)
        assert table.n_tokens == 64
        docs = documents(table)
        assert docs["n_words"].item() == 13  # 12 whole words and the first pieces of the 13th
        if method == "shap":
            assert abs(docs["f_input"].item() - docs["probability"].item()) < 1e-5


BAD_OPTIONS = [
    ("shap", {"max_evals": 3}, ValueError, r"max_evals=3 is too small: use an integer ≥ 4"),
    ("shap", {"max_evals": 2.5}, TypeError, "max_evals must be an integer"),
    ("shap", {"max_evals": "auto"}, TypeError, "max_evals must be an integer"),
    ("shap", {"seed": -1}, ValueError, r"seed=-1 must lie in \[0, 4294967295\]"),
    ("shap", {"internal_batch_size": 0}, ValueError, "internal_batch_size=0 is too small"),
    ("shap", {"num_samples": 100}, TypeError, r"unknown option\(s\) \['num_samples'\].*'max_evals'"),
    ("lime", {"num_samples": 5}, ValueError, r"num_samples=5 is too small: use an integer ≥ 10"),
    ("lime", {"num_samples": None}, TypeError, "num_samples must be an integer"),
    ("lime", {"kernel_width": 0}, ValueError, "kernel_width=0 is too small: use a number > 0"),
    ("lime", {"kernel_width": "wide"}, TypeError, "kernel_width must be a number"),
    ("lime", {"seed": 1.5}, TypeError, "seed must be an integer"),
    ("lime", {"max_evals": 100}, TypeError, r"unknown option\(s\) \['max_evals'\].*'num_samples'"),
]


@pytest.mark.parametrize("method, options, error, match", BAD_OPTIONS)
def test_bad_options_raise_clear_errors(tiny_classifier, method, options, error, match):
    tokenizer, model = tiny_classifier
    with pytest.raises(error, match=match):
        explain(model, tokenizer, TEXTS[:1], method, **options)


@pytest.mark.parametrize("module, name", [(_shap, "shap"), (_lime, "lime")])
def test_attribute_without_tokenizer_raises(tiny_classifier, module, name):
    tokenizer, model = tiny_classifier
    batch = {k: torch.tensor([v]) for k, v in _batch(tokenizer, TEXTS[1]).items()}
    with pytest.raises(TypeError, match=f"method '{name}' perturbs text and needs the model's tokenizer"):
        module.attribute(model, batch, torch.tensor([0]))


def test_method_options_list_the_defaults():
    assert method_options("shap") == {"max_evals": 500, "internal_batch_size": 32, "seed": 0}
    assert method_options("lime") == {
        "num_samples": 1000,
        "kernel_width": 25.0,
        "internal_batch_size": 32,
        "seed": 0,
    }
