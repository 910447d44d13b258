"""Shared fixtures: a tiny random BERT classifier with a matching tokenizer, the real cached classifier,
and METHOD_CASES — the attribution methods every generic test in tests/test_attribution.py runs on.

Adding a method to METHOD_CASES enrols it in every generic test (one row per token, dtypes, targets,
determinism, batch-size invariance, bad input). A case may name a method defined in the tests
(tests/toy_method.py): the autouse fixture below registers it for that test only.
"""

from __future__ import annotations

import pytest
import torch

LABELS = ("Democratic", "Republican")

#: pytest.param((method name, small fast options), id=...). Add a case here to run a new method through the
#: generic tests.
METHOD_CASES = [
    pytest.param(("ig", {"n_steps": 8}), id="ig"),
    pytest.param(
        ("ig", {"n_steps": "auto", "baseline": "mask", "quadrature": "riemann_trapezoid", "max_steps": 64}),
        id="ig-auto-mask",
    ),
    pytest.param(("loo", {}), id="loo"),
    pytest.param(
        ("loo", {"replacement": "delete", "level": "word", "measure": "loss"}), id="loo-delete-word"
    ),
    pytest.param(("atman", {}), id="atman"),
    pytest.param(
        ("atman", {"conceptual": True, "level": "word", "shift": False}), id="atman-conceptual-word"
    ),
    pytest.param(("shap", {"max_evals": 40}), id="shap"),
    pytest.param(("shap", {"internal_batch_size": 3, "seed": 7}), id="shap-defaults-small-batches"),
    pytest.param(("lime", {"num_samples": 100}), id="lime"),
    pytest.param(
        ("lime", {"num_samples": 60, "kernel_width": 10.0, "internal_batch_size": 7, "seed": 3}),
        id="lime-narrow",
    ),
    # a toy method from outside the package (tests/toy_method.py), registered only while its case runs
    pytest.param(("random-test", {"seed": 3}), id="random-test"),
]


@pytest.fixture(autouse=True)
def _methods_of_the_tests(request):
    """While a test runs a METHOD_CASES case (a ``case`` parameter) whose method is defined in the tests
    (tests/toy_method.py), that method is registered; it is unregistered afterwards."""
    callspec = getattr(request.node, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    if not (isinstance(case, tuple) and case and case[0] == "random-test"):
        yield
        return
    import toy_method

    with toy_method.registered():
        yield


@pytest.fixture(scope="session")
def packaged_tokenizer():
    """The packaged MiniLM's WordPiece tokenizer (uncased, 30,522 tokens, offline)."""
    from transformers import AutoTokenizer

    from course_utils.models import PACKAGED, model_source

    return AutoTokenizer.from_pretrained(model_source(PACKAGED))


@pytest.fixture(scope="session")
def tiny_classifier(packaged_tokenizer):
    """``(tokenizer, model)``: a seeded random 2-layer BERT (hidden 32, 64 positions, eager attention) in eval
    mode with labels Democratic/Republican, and the packaged tokenizer that matches its vocabulary."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(packaged_tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
        id2label=dict(enumerate(LABELS)),
        label2id={lab: i for i, lab in enumerate(LABELS)},
        attn_implementation="eager",
        initializer_range=0.2,
    )  # larger weights: outputs far from 0.5
    model = BertForSequenceClassification(config).eval()
    with (
        torch.no_grad()
    ):  # random init zeroes the [PAD] row; a trained BERT's is not zero (else "pad" = "zero" baseline)
        model.get_input_embeddings().weight[packaged_tokenizer.pad_token_id].normal_(0.0, 0.2)
    return packaged_tokenizer, model


@pytest.fixture
def tiny(tiny_classifier):
    """A private copy of the tiny classifier (a test may train it or switch its mode) and the tokenizer."""
    import copy

    tokenizer, model = tiny_classifier
    return tokenizer, copy.deepcopy(model)


@pytest.fixture(scope="session")
def real_classifier():
    """``(tokenizer, model)``: the course's fine-tuned party classifier (from the cache; trains once if missing)."""
    from course_utils.models import load_classifier

    return load_classifier(progress=False)


@pytest.fixture
def locked_matplotlib():
    """Skip a byte-for-byte comparison with a committed figure under another matplotlib than the lock's.

    The files under figures/ are drawn with requirements/lock.txt's matplotlib; another version (Colab's 3.10)
    rasterises text and antialiasing differently, so its bytes differ while the drawing is the same. The
    regenerate-twice tests (determinism) still run under every version."""
    import re
    from pathlib import Path

    import matplotlib

    lock = (Path(__file__).resolve().parent.parent / "requirements" / "lock.txt").read_text()
    locked = re.search(r"^matplotlib==(\S+)$", lock, re.M).group(1)
    if matplotlib.__version__ != locked:
        pytest.skip(
            f"committed figures are drawn with matplotlib {locked} (requirements/lock.txt); "
            f"this is {matplotlib.__version__}"
        )
