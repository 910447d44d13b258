"""Tests for the method contract (course_utils.attribution._method): every registered method's declarations,
options and diagnostics, and the recipe for adding a method tried with the toy method of tests/toy_method.py."""

import dataclasses
import inspect
import sys

import numpy as np
import pytest
import torch
import toy_method

from course_utils import attribution
from course_utils.attribution import (
    SUPPORTED_METHODS,
    Diagnostics,
    Method,
    _method,
    documents,
    explain,
    method_options,
    register,
    unregister,
)

TEXTS = ["The economy is growing stronger every year.", "Taxes must be cut."]
#: small, fast options per package method (the generic cases are in conftest.METHOD_CASES)
FAST = {"ig": {"n_steps": 4}, "loo": {}, "atman": {}, "shap": {"max_evals": 10}, "lime": {"num_samples": 20}}
PACKAGE_METHODS = ["ig", "loo", "atman", "shap", "lime"]


@pytest.fixture
def toy():
    with toy_method.registered() as cls:
        yield cls


# ------------------------------------------------------------------------------------ declarations
@pytest.mark.parametrize("name", PACKAGE_METHODS)
def test_method_declarations(name):
    cls = SUPPORTED_METHODS[name]
    assert issubclass(cls, Method) and cls.name == name
    assert isinstance(cls.predicts, bool) and isinstance(cls.needs_tokenizer, bool)
    assert cls.granularity in _method.GRANULARITIES
    assert dataclasses.is_dataclass(cls.Options) and cls.Options.__dataclass_params__.frozen
    assert method_options(name) == cls.defaults() == dataclasses.asdict(cls.Options())


def test_declarations_of_the_package_methods():
    declared = {n: (c.predicts, c.needs_tokenizer, c.granularity) for n, c in SUPPORTED_METHODS.items()}
    assert declared == {
        "ig": (True, True, "token"),
        "loo": (False, True, "token"),
        "atman": (False, False, "token"),
        "shap": (False, True, "word"),
        "lime": (False, True, "word"),
    }


@pytest.mark.parametrize("name", PACKAGE_METHODS)
def test_options_defaults_match_the_attribute_function(name):
    """The module's keyword function (the maths, called by the method) has the same options and defaults."""
    cls = SUPPORTED_METHODS[name]
    module = sys.modules[cls.__module__]
    signature = {
        k: p.default
        for k, p in inspect.signature(module.attribute).parameters.items()
        if p.kind is p.KEYWORD_ONLY and k != "tokenizer"
    }
    assert signature == cls.defaults()


def test_options_are_frozen():
    options = SUPPORTED_METHODS["ig"].Options(n_steps=8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.n_steps = 16


BAD_OPTIONS = [
    ("ig", {"n_steps": 1}, ValueError, "n_steps=1 is too small"),
    ("ig", {"quadrature": "gauss_legendre"}, ValueError, "needs a nested rule"),
    ("ig", {"baseline": True}, ValueError, "baseline=True is not supported"),
    ("loo", {"measure": "odds"}, ValueError, "measure='odds' is not supported"),
    ("loo", {"level": "sentence"}, ValueError, "level='sentence' is not supported"),
    ("atman", {"multiplier": 2.0}, ValueError, r"multiplier=2.0 must lie in \[0, 1\]"),
    ("atman", {"internal_batch_size": 0}, ValueError, "internal_batch_size=0 is too small: use an integer ≥"),
    ("shap", {"max_evals": 3}, ValueError, "max_evals=3 is too small"),
    ("lime", {"kernel_width": -1.0}, ValueError, "kernel_width=-1.0 is too small: use a number > 0"),
]


@pytest.mark.parametrize("name, options, error, match", BAD_OPTIONS)
def test_options_check_their_values(name, options, error, match):
    with pytest.raises(error, match=match):
        SUPPORTED_METHODS[name].Options(**options)


@pytest.mark.parametrize("name, options, error, match", BAD_OPTIONS[:3])
def test_explain_checks_options_before_any_work(name, options, error, match):
    with pytest.raises(error, match=match):  # no model or tokenizer needed: the options fail first
        explain(None, None, TEXTS, name, **options)


# ------------------------------------------------------------------------------------- diagnostics
@pytest.mark.parametrize("name", PACKAGE_METHODS)
def test_attribute_returns_scores_and_numpy_diagnostics(tiny_classifier, name):
    from course_utils.attribution import _inputs

    tokenizer, model = tiny_classifier
    cls = SUPPORTED_METHODS[name]
    docs = _inputs.encode(tokenizer, TEXTS, 64)
    batch = _inputs.padded_batch(docs, tokenizer.pad_token_id, "cpu")
    targets = None if cls.predicts else torch.tensor([0, 1])
    scores, diag = cls.attribute(
        model, batch, targets, cls.Options(**FAST[name]), tokenizer if cls.needs_tokenizer else None
    )
    assert isinstance(scores, torch.Tensor) and scores.shape == batch["input_ids"].shape
    assert isinstance(diag, Diagnostics) and diag.columns and len(diag) == len(TEXTS)
    assert all(isinstance(v, np.ndarray) and v.shape == (len(TEXTS),) for v in diag.columns.values())
    if cls.predicts:
        assert diag.logits.shape == (len(TEXTS), model.config.num_labels) and diag.target.dtype == np.int64
    else:
        assert diag.logits is None and diag.target is None


def test_diagnostics_of_converts_tensors_and_lists():
    diag = Diagnostics.of(
        {"a": torch.tensor([1.5, 2.0]), "b": [1, 2], "c": ["word", "word"]}, target=torch.tensor([0, 1])
    )
    assert [v.dtype.kind for v in diag.columns.values()] == ["f", "i", "U"] and diag.target.tolist() == [0, 1]
    with pytest.raises(TypeError, match="diagnostic 'a' must be a 1-D numpy array"):
        Diagnostics({"a": [1.0, 2.0]})


# ---------------------------------------------------------------------------------------- registry
def test_registry_lists_the_package_methods_in_order():
    assert list(SUPPORTED_METHODS) == PACKAGE_METHODS
    with pytest.raises(TypeError):
        SUPPORTED_METHODS["mine"] = Method  # a read-only view: register() adds methods


def test_adding_a_method_is_one_module_and_one_registry_line(tiny_classifier, toy):
    tokenizer, model = tiny_classifier
    assert SUPPORTED_METHODS[toy_method.NAME] is toy and method_options(toy_method.NAME) == {
        "seed": 0,
        "scale": 1.0,
    }
    result = explain(model, tokenizer, TEXTS, toy_method.NAME, "Republican", seed=5)
    table, docs = result.tokens, documents(result)
    assert (table["method"] == toy_method.NAME).all() and (table.loc[table["special"], "score"] == 0).all()
    assert docs["n_scored"].tolist() == [len(tokenizer(t)["input_ids"]) - 2 for t in TEXTS]
    assert docs["seed"].tolist() == [5, 5] and "granularity" not in docs
    assert result.options == {"method": toy_method.NAME, "batch_size": 16, "seed": 5, "scale": 1.0}
    with pytest.raises(ValueError, match="scale=0 must be a positive number"):
        explain(model, tokenizer, TEXTS, toy_method.NAME, scale=0)


def test_unregister_removes_the_method(tiny_classifier):
    tokenizer, model = tiny_classifier
    with toy_method.registered():
        assert toy_method.NAME in SUPPORTED_METHODS
    assert toy_method.NAME not in SUPPORTED_METHODS
    with pytest.raises(
        ValueError, match=r"method='random-test' is not supported; choose one of \['ig', 'loo'"
    ):
        explain(model, tokenizer, TEXTS, toy_method.NAME)


def test_register_refuses_a_taken_name_and_non_methods(toy):
    class Other(Method):
        name = toy_method.NAME

        @dataclasses.dataclass(frozen=True)
        class Options:
            pass

        @staticmethod
        def attribute(model, batch, targets, options, tokenizer=None):
            raise NotImplementedError

    with pytest.raises(ValueError, match="a method named 'random-test' is already registered"):
        register(Other)
    register(toy)  # the same class again is fine
    with pytest.raises(TypeError, match="takes a subclass of Method"):
        register(lambda model: None)
    with pytest.raises(KeyError):
        unregister("not-a-method")


@pytest.mark.parametrize(
    "body, match",
    [
        ({}, "must declare name"),
        ({"name": "x", "granularity": "sentence"}, "granularity='sentence'"),
        ({"name": "x"}, "must declare Options"),
        ({"name": "x", "Options": dataclasses.dataclass(type("O", (), {}))}, "must declare Options"),
        (
            {"name": "x", "Options": dataclasses.dataclass(frozen=True)(type("O", (), {}))},
            "must define attribute",
        ),
    ],
)
def test_method_subclass_checks_its_declarations(body, match):
    with pytest.raises(TypeError, match=match):
        type("Broken", (Method,), body)


# ------------------------------------------------------------------------------ optional libraries
@pytest.mark.parametrize("name, modules", [("shap", ["shap"]), ("lime", ["lime", "lime.lime_text"])])
def test_a_missing_optional_library_breaks_only_its_method(tiny_classifier, monkeypatch, name, modules):
    tokenizer, model = tiny_classifier
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # `import shap` now raises ImportError
    with pytest.raises(ImportError):
        explain(model, tokenizer, TEXTS[:1], name, **FAST[name])
    assert explain(model, tokenizer, TEXTS[:1], "loo").n_tokens == len(tokenizer(TEXTS[0])["input_ids"])
    assert attribution.exact_shapley(lambda m: m.sum(1).astype(float), 2)[0].tolist() == [1.0, 1.0]
