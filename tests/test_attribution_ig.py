"""Tests for integrated gradients (course_utils.attribution._ig, its core _ig_path, adaptive refinement _ig_adaptive and
pass scheduling _ig_passes) and its quadrature rules (_quadrature)."""

import math

import numpy as np
import pytest
import torch

from course_utils.attribution import (
    _cls_forward,
    _ig,
    _ig_adaptive,
    _ig_passes,
    _ig_path,
    _quadrature,
    documents,
    explain,
    integrated_gradients,
)

TEXTS = ["The economy is growing stronger every year.", "Taxes must be cut, and unbelievably fast!"]
PARAGRAPH = (
    "Tonight I ask the Congress to join me in cutting taxes for every working family, in securing our "
    "borders, and in keeping faith with the men and women who defend our freedom around the world. "
    "We will not tire, we will not falter, and we will not fail."
)


def make_batch(tokenizer, texts):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    word_ids = [[-1 if w is None else w for w in enc.word_ids(i)] for i in range(len(texts))]
    return {
        **{k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")},
        "word_ids": torch.tensor(word_ids),
    }


# ------------------------------------------------------------------------------------------ quadrature
S3, S35 = math.sqrt(3), math.sqrt(3 / 5)
X4 = [math.sqrt(3 / 7 - 2 / 7 * math.sqrt(6 / 5)), math.sqrt(3 / 7 + 2 / 7 * math.sqrt(6 / 5))]
W4 = [(18 + math.sqrt(30)) / 36, (18 - math.sqrt(30)) / 36]
HAND = [  # (rule, n, alphas, weights) computed by hand
    ("riemann_trapezoid", 2, [0, 1], [1 / 2, 1 / 2]),
    ("riemann_trapezoid", 3, [0, 1 / 2, 1], [1 / 4, 1 / 2, 1 / 4]),
    ("riemann_trapezoid", 4, [0, 1 / 3, 2 / 3, 1], [1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    ("gauss_legendre", 2, [(1 - 1 / S3) / 2, (1 + 1 / S3) / 2], [1 / 2, 1 / 2]),
    ("gauss_legendre", 3, [(1 - S35) / 2, 1 / 2, (1 + S35) / 2], [5 / 18, 8 / 18, 5 / 18]),
    (
        "gauss_legendre",
        4,
        [(1 - X4[1]) / 2, (1 - X4[0]) / 2, (1 + X4[0]) / 2, (1 + X4[1]) / 2],
        [W4[1] / 2, W4[0] / 2, W4[0] / 2, W4[1] / 2],
    ),
    ("clenshaw_curtis", 2, [0, 1], [1 / 2, 1 / 2]),
    ("clenshaw_curtis", 3, [0, 1 / 2, 1], [1 / 6, 4 / 6, 1 / 6]),  # Simpson's rule
    (
        "clenshaw_curtis",
        5,
        [0, (1 - math.sqrt(1 / 2)) / 2, 1 / 2, (1 + math.sqrt(1 / 2)) / 2, 1],
        [1 / 30, 8 / 30, 12 / 30, 8 / 30, 1 / 30],
    ),
]


@pytest.mark.parametrize("rule, n, alphas, weights", HAND)
def test_quadrature_matches_hand_values(rule, n, alphas, weights):
    np.testing.assert_allclose(_quadrature.alphas(n, rule), alphas, atol=1e-12)
    np.testing.assert_allclose(_quadrature.weights(n, rule), weights, atol=1e-12)


@pytest.mark.parametrize("rule", _quadrature.RULES)
def test_quadrature_integrates_polynomials(rule):
    a, w = _quadrature.alphas(8, rule), _quadrature.weights(8, rule)
    assert w.sum() == pytest.approx(1.0)
    exact_degree = {"gauss_legendre": 15, "clenshaw_curtis": 7, "riemann_trapezoid": 1}[rule]
    assert (w * a**exact_degree).sum() == pytest.approx(1 / (exact_degree + 1), abs=1e-12)


@pytest.mark.parametrize("rule", _quadrature.NESTED)
def test_nested_rules_keep_their_points(rule):
    for n in (2, 3, 5, 9):
        coarse, fine = _quadrature.alphas(n, rule), _quadrature.alphas(2 * n - 1, rule)
        np.testing.assert_allclose(fine[0::2], coarse, atol=1e-15)
    assert "gauss_legendre" not in _quadrature.NESTED


@pytest.mark.parametrize(
    "n, rule, error, match",
    [
        (1, "riemann_trapezoid", ValueError, "too small"),
        (0, "gauss_legendre", ValueError, "too small"),
        (2.5, "gauss_legendre", TypeError, "must be an integer, got float"),
        (
            4,
            "simpson",
            ValueError,
            r"quadrature='simpson' is not supported; choose one of \['gauss_legendre'",
        ),
    ],
)
def test_quadrature_bad_input(n, rule, error, match):
    with pytest.raises(error, match=match):
        _quadrature.alphas(n, rule)


# ---------------------------------------------------------------------------------------- completeness
def test_attribute_completeness_tiny_model(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    scores, diag = _ig.attribute(model, batch, torch.tensor([1, 0]), n_steps=64)
    delta = diag["f_input"] - diag["f_baseline"]
    assert (delta.abs() > 1e-3).all(), "the tiny model's output must move for the test to mean something"
    np.testing.assert_allclose(scores.sum(1), delta, rtol=1e-3, atol=1e-6)
    assert (diag["completeness_error"] < 1e-3 * delta.abs()).all()
    assert (scores[batch["attention_mask"] == 0] == 0).all()
    assert (diag["n_steps"] == 64).all() and (diag["forward_passes"] == 66).all()


def test_attribute_endpoints_are_model_outputs(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    _, diag = _ig.attribute(model, batch, torch.tensor([1, 1]), n_steps=4)
    with torch.no_grad():
        probs = torch.softmax(
            model(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}).logits, -1
        )
        base = batch["input_ids"].masked_fill((batch["word_ids"] >= 0), tokenizer.pad_token_id)
        base_probs = torch.softmax(model(input_ids=base, attention_mask=batch["attention_mask"]).logits, -1)
    np.testing.assert_allclose(diag["f_input"], probs[:, 1], atol=1e-6)
    np.testing.assert_allclose(diag["f_baseline"], base_probs[:, 1], atol=1e-6)


def test_attribute_logit_output_completeness(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    scores, diag = _ig.attribute(model, batch, torch.tensor([0, 1]), n_steps=64, output="logit")
    with torch.no_grad():
        logits = model(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}).logits
    np.testing.assert_allclose(diag["f_input"], logits[[0, 1], [0, 1]], atol=1e-5)
    np.testing.assert_allclose(scores.sum(1), diag["f_input"] - diag["f_baseline"], rtol=1e-3, atol=1e-5)


def test_attribute_gauss_legendre_converges_faster_than_trapezoid(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    target = torch.tensor([1, 0])
    for n in (4, 8):
        _, gl = _ig.attribute(model, batch, target, n_steps=n, quadrature="gauss_legendre")
        _, tr = _ig.attribute(model, batch, target, n_steps=n, quadrature="riemann_trapezoid")
        assert gl["completeness_error"].sum() < tr["completeness_error"].sum(), n


def test_explain_completeness_real_model_paragraph(real_classifier):
    tokenizer, model = real_classifier
    result = explain(model, tokenizer, PARAGRAPH, n_steps="auto", tolerance=0.01)
    table, doc = result.tokens, documents(result).iloc[0]
    assert doc["relative_error"] <= 0.01 or doc["completeness_error"] <= _ig.ATOL
    assert table["score"].sum() == pytest.approx(doc["f_input"] - doc["f_baseline"], rel=0.01, abs=_ig.ATOL)
    assert doc["f_input"] == pytest.approx(doc["probability"], abs=1e-5)


# ------------------------------------------------------------------------------------------------ Captum
@pytest.mark.parametrize("baseline", ["pad", "mask"])
def test_attribute_matches_captum_layer_integrated_gradients(tiny_classifier, baseline):
    from captum.attr import LayerIntegratedGradients

    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS[1:])
    target = 1
    ours, diag = _ig.attribute(
        model, batch, torch.tensor([target]), n_steps=16, baseline=baseline, tokenizer=tokenizer
    )

    def forward(input_ids, attention_mask, token_type_ids):
        logits = model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).logits
        return torch.softmax(logits, dim=-1)

    replacement = tokenizer.pad_token_id if baseline == "pad" else tokenizer.mask_token_id
    reference = batch["input_ids"].masked_fill(batch["word_ids"] >= 0, replacement)
    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    theirs, delta = lig.attribute(
        batch["input_ids"],
        baselines=reference,
        target=target,
        n_steps=16,
        method="gausslegendre",
        return_convergence_delta=True,
        additional_forward_args=(batch["attention_mask"], batch["token_type_ids"]),
    )
    np.testing.assert_allclose(ours, theirs.sum(-1).detach(), atol=1e-5)
    assert float(diag["completeness_error"][0]) == pytest.approx(abs(float(delta[0])), abs=1e-5)


# ---------------------------------------------------------------------------------------------- options
def test_attribute_auto_steps_meet_tolerance(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    _, diag = _ig.attribute(
        model,
        batch,
        torch.tensor([1, 0]),
        n_steps="auto",
        quadrature="riemann_trapezoid",
        tolerance=1e-3,
        atol=0,
        max_steps=256,
    )
    assert (diag["n_steps"] >= _ig.AUTO_START).all()
    assert diag["n_steps"].max() > _ig.AUTO_START, "a strict tolerance needs more than the first points"
    assert (diag["forward_passes"] >= diag["n_steps"] + _ig.AUTO_PIECES + 1).all()
    assert (diag["relative_error"] <= 1e-3).all() and diag["converged"].all()
    assert (diag["forward_passes"] >= diag["n_steps"] + 2).all()


def test_explain_auto_steps_real_model(real_classifier):
    tokenizer, model = real_classifier
    texts = [PARAGRAPH, "Taxes must be cut.", "We will expand health care for every child in America."]
    docs = documents(explain(model, tokenizer, texts, n_steps="auto", tolerance=0.01))
    assert docs["n_steps"].between(_ig.AUTO_START, 256).all()
    assert (docs["forward_passes"] > docs["n_steps"]).all()
    assert ((docs["relative_error"] <= 0.01) | (docs["completeness_error"] <= _ig.ATOL)).all()


def test_attribute_auto_never_recomputes_a_point(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    _cls_forward.logits_function(model)  # its one-off check runs the model too: not counted below
    rows = []
    hook = model.bert.embeddings.register_forward_hook(lambda module, args, out: rows.append(out.shape[0]))
    try:
        _, diag = _ig.attribute(model, batch, torch.tensor([1, 0]), n_steps="auto", tolerance=1e-4, atol=0)
    finally:
        hook.remove()
    assert diag["n_steps"].max() > _ig.AUTO_START
    # every gradient point once (f(x′) and f(x) come with the ones at α = 0 and α = 1), plus the scan …
    assert (diag["forward_passes"] == diag["n_steps"] + _ig.AUTO_SCAN).all()
    assert sum(rows) == int(diag["forward_passes"].sum()), (
        "… and nothing else ran (the targets differ: no sharing)"
    )


@pytest.mark.parametrize("rule", _quadrature.NESTED)
def test_attribute_auto_agrees_with_many_fixed_steps(tiny_classifier, rule):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    target = torch.tensor([1, 0])
    auto, diag = _ig.attribute(model, batch, target, n_steps="auto", quadrature=rule, tolerance=1e-4, atol=0)
    reference, _ = _ig.attribute(model, batch, target, n_steps=128)
    assert diag["converged"].all()
    np.testing.assert_allclose(
        auto, reference, atol=2e-4 * float(diag["f_input"].sub(diag["f_baseline"]).abs().max()) + 1e-6
    )


@pytest.mark.parametrize("n_steps", [8, "auto"])
def test_documents_with_the_same_baseline_share_it(tiny_classifier, monkeypatch, n_steps):
    tokenizer, model = tiny_classifier
    texts = [
        "Taxes must be cut now.",
        "Jobs must be made now.",
        "Taxes must be cut now.",
        "A longer text about the economy.",
    ]
    batch = make_batch(tokenizer, texts)
    targets = torch.tensor([1, 1, 0, 1])
    same = _ig_passes.same_baseline(
        batch["input_ids"].masked_fill(batch["word_ids"] >= 0, 0),
        batch["attention_mask"],
        batch["token_type_ids"],
        targets,
    )
    assert same.tolist() == [0, 0, 2, 3], "same length and target share; another target or length does not"
    together, diag = _ig.attribute(model, batch, targets, n_steps=n_steps)
    for d in range(len(texts)):  # each document alone gives the same scores and f(x')
        alone, diag_alone = _ig.attribute(
            model, {k: v[d : d + 1] for k, v in batch.items()}, targets[d : d + 1], n_steps=n_steps
        )
        n = int(batch["attention_mask"][d].sum())
        np.testing.assert_allclose(together[d, :n], alone[0, :n], atol=2e-6)
        assert float(diag["f_baseline"][d]) == pytest.approx(float(diag_alone["f_baseline"][0]), abs=1e-6)


def test_passes_split_the_rows_evenly_within_the_token_budget():
    lengths = torch.tensor([60, 60, 30, 30, 30, 10])
    mask = (torch.arange(64)[None, :] < lengths[:, None]).long()
    run = _ig_path.Paths(None, None, None, mask, None, None, "prob", None)
    docs = torch.tensor([0, 0, 1, 2, 2, 3, 4, 5] * 8)
    chunks = run.chunks(docs)
    tokens = [int(lengths[docs[sl]].sum()) for sl in chunks]
    assert chunks[0].start == 0 and chunks[-1].stop == len(docs)
    assert all(a.stop == b.start for a, b in zip(chunks, chunks[1:]))
    assert len(chunks) == -(-sum(tokens) // _ig.TOKEN_BUDGET), "the fewest passes the budget allows"
    assert max(tokens) <= sum(tokens) / len(chunks) + 60, (
        "no pass exceeds the even share by more than one row"
    )
    assert min(tokens) >= sum(tokens) / len(chunks) - 60, "no small pass left over"
    assert run.chunks(docs[:0]) == []
    assert [
        c.stop - c.start for c in _ig_path.Paths(None, None, None, mask, None, None, "prob", 5).chunks(docs)
    ][:2] == [5, 5]


def test_token_budget_is_the_cpu_optimum_off_cuda_and_fills_half_the_free_gpu_memory(tiny_classifier):
    _, model = tiny_classifier
    config = model.config
    assert _ig_passes.token_budget(torch.device("cpu"), config, 64) == _ig.TOKEN_BUDGET
    assert _ig_passes.token_budget(torch.device("meta"), config, 64) == _ig.TOKEN_BUDGET
    cuda = torch.device("cuda")
    per_token = _ig_passes.activation_bytes_per_token(config, 64, 4)
    h, layers, heads = config.hidden_size, config.num_hidden_layers, config.num_attention_heads
    assert per_token == int(layers * (34 * h + 5 * heads * 64) * 2 + 8 * h), (
        "Korthikanti et al.'s count at fp32"
    )
    free = 80 * 2**30  # an 80 GiB card, nothing else on it
    budget = _ig_passes.token_budget(cuda, config, 64, free_bytes=free)
    assert budget == int(free * _ig_passes.GPU_MEMORY_FRACTION // per_token) > 100 * _ig.TOKEN_BUDGET
    half = _ig_passes.token_budget(cuda, config, 64, torch.bfloat16, free_bytes=free)
    assert half == int(
        free * _ig_passes.GPU_MEMORY_FRACTION // _ig_passes.activation_bytes_per_token(config, 64, 2)
    )
    assert half > budget, "16-bit activations: more tokens per pass"
    assert _ig_passes.token_budget(cuda, config, 512, free_bytes=free) < budget, (
        "longer rows: attention grows with s"
    )
    assert _ig_passes.token_budget(cuda, config, 64, free_bytes=2**20) == _ig.TOKEN_BUDGET, (
        "never below the CPU's"
    )


def test_ig_passes_follow_the_device_budget_and_scores_do_not_depend_on_it(tiny_classifier, monkeypatch):
    tokenizer, model = tiny_classifier
    texts = ["We will cut taxes for working families.", "Health care is a right for every American."]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    targets = torch.tensor([0, 1])
    seen = []
    real = _ig_passes.passes
    monkeypatch.setattr(
        _ig_passes,
        "passes",
        lambda lengths, rows, budget=_ig.TOKEN_BUDGET: (seen.append(budget), real(lengths, rows, budget))[1],
    )
    wide, _ = _ig.attribute(model, batch, targets, n_steps=16)
    assert set(seen) == {_ig.TOKEN_BUDGET}, "on the CPU: the CPU budget"
    seen.clear()
    monkeypatch.setattr(_ig_passes, "token_budget", lambda *args, **kwargs: 40)  # a tiny "device"
    narrow, _ = _ig.attribute(model, batch, targets, n_steps=16)
    assert set(seen) == {40}
    np.testing.assert_allclose(narrow.numpy(), wide.numpy(), atol=2e-6)


def test_warp_is_a_smooth_increasing_map_of_the_unit_interval():
    t = np.linspace(0.0, 1.0, 101)
    steep = _ig_adaptive.Warp(np.array([0.1, 0.1, 0.8, 0.9, 0.9]))  # f changes between α = 1/4 and 3/4
    alpha = steep.alpha(t)
    assert alpha[0] == 0.0 and alpha[-1] == 1.0 and (np.diff(alpha) > 0).all()
    np.testing.assert_allclose(steep.cdf(alpha), t, atol=1e-12)  # the inverse of the cumulative density
    fine = np.linspace(0.0, 1.0, 20001)
    assert np.trapezoid(steep.density(fine), fine) == pytest.approx(1.0, abs=1e-6)
    middle = (alpha > 0.25) & (alpha < 0.75)
    assert middle.mean() > 0.7, "most points go where f changes"
    flat = _ig_adaptive.Warp(np.array([0.3, 0.3, 0.3, 0.3, 0.3]))  # f does not move: plain, unwarped rule
    np.testing.assert_allclose(flat.alpha(t), t, atol=1e-12)


@pytest.mark.parametrize("n_steps", ["auto", 8])
def test_attribute_predicts_when_given_no_target(tiny_classifier, n_steps):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    with torch.no_grad():
        logits = model(
            **{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        ).logits  # (2, 2)
    scores, diag = _ig.attribute(model, batch, None, n_steps=n_steps)
    np.testing.assert_allclose(diag["logits"], logits, atol=1e-5)
    assert diag["target"].tolist() == logits.argmax(1).tolist()
    np.testing.assert_allclose(diag["f_input"], logits.softmax(-1).max(1).values, atol=1e-6)
    given, _ = _ig.attribute(model, batch, logits.argmax(1), n_steps=n_steps)
    torch.testing.assert_close(scores, given, msg="not the scores of the predicted class given as target")


def test_explain_ig_runs_no_forward_pass_of_its_own(tiny_classifier):
    """The prediction comes with IG's gradient at α = 1 (auto mode) or its one pass at the input (fixed)."""
    from course_utils.models import predict_proba

    tokenizer, model = tiny_classifier
    _cls_forward.logits_function(model)  # the one-off check of the [CLS]-only forward runs the full model
    calls = []
    hook = model.register_forward_hook(lambda module, args, out: calls.append(1))
    try:
        auto = documents(explain(model, tokenizer, TEXTS, "ig"))
        fixed = documents(explain(model, tokenizer, TEXTS, "ig", n_steps=8))
    finally:
        hook.remove()
    assert not calls, "explain() ran the model's own forward pass for IG"
    probs = predict_proba(model, tokenizer, TEXTS)  # (2, 2)
    for docs in (auto, fixed):
        np.testing.assert_allclose(docs["probability"], probs.max(1), atol=1e-6)
        assert docs["target"].tolist() == probs.argmax(1).tolist()
        np.testing.assert_allclose(docs["f_input"], docs["probability"], atol=1e-6)
    assert (auto["forward_passes"] == auto["n_steps"] + _ig.AUTO_SCAN).all()
    assert (fixed["forward_passes"] == 8 + 2).all()


def test_attribute_auto_warns_when_max_steps_too_low(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    with pytest.warns(UserWarning, match="above tolerance"):
        _, diag = _ig.attribute(
            model,
            batch,
            torch.tensor([1, 0]),
            n_steps="auto",
            tolerance=1e-9,
            atol=0,
            max_steps=_ig.AUTO_START,
        )
    assert not diag["converged"].all()


def test_attribute_baselines_differ(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    target = torch.tensor([1, 0])
    runs = {
        b: _ig.attribute(model, batch, target, n_steps=16, baseline=b, tokenizer=tokenizer)
        for b in ("pad", "mask", "zero")
    }
    for a, b in [("pad", "zero"), ("pad", "mask"), ("mask", "zero")]:
        assert not torch.allclose(runs[a][0], runs[b][0], atol=1e-4), (a, b)
        assert not torch.allclose(runs[a][1]["f_baseline"], runs[b][1]["f_baseline"])
    special = batch["word_ids"] < 0
    for scores, _ in runs.values():  # [CLS]/[SEP] equal their baseline: no attribution
        assert (scores[special] == 0).all()


def test_attribute_l2_normalisation_unit_norm(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    raw, diag = _ig.attribute(model, batch, torch.tensor([1, 0]), n_steps=8)
    unit, diag_unit = _ig.attribute(model, batch, torch.tensor([1, 0]), n_steps=8, normalize="l2")
    np.testing.assert_allclose(unit.norm(dim=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(unit, raw / raw.norm(dim=1, keepdim=True), atol=1e-6)
    np.testing.assert_allclose(diag_unit["sum_scores"], diag["sum_scores"])  # diagnostics stay raw
    assert not np.allclose(
        unit.sum(1), diag["f_input"] - diag["f_baseline"], atol=1e-3
    )  # completeness is lost


def test_integrated_gradients_is_explain_ig(tiny_classifier):
    tokenizer, model = tiny_classifier
    a = integrated_gradients(model, tokenizer, TEXTS, "Republican", n_steps=8, baseline="zero")
    b = explain(model, tokenizer, TEXTS, "ig", "Republican", n_steps=8, baseline="zero")
    np.testing.assert_array_equal(a.tokens["score"], b.tokens["score"])


def test_attribute_without_word_ids_finds_specials(tiny_classifier):
    tokenizer, model = tiny_classifier
    batch = make_batch(tokenizer, TEXTS)
    with_ids, _ = _ig.attribute(model, batch, torch.tensor([1, 0]), n_steps=8)
    without, _ = _ig.attribute(
        model, {k: v for k, v in batch.items() if k != "word_ids"}, torch.tensor([1, 0]), n_steps=8
    )
    np.testing.assert_allclose(with_ids, without, atol=1e-7)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"n_steps": 1}, ValueError, "too small"),
        ({"n_steps": "many"}, ValueError, "not understood"),
        (
            {"n_steps": 2.5},
            TypeError,
            r"n_steps must be an integer ≥ 2, got float \(2.5\).*or n_steps='auto'",
        ),
        (
            {"baseline": "unk"},
            ValueError,
            r"baseline='unk' is not supported; choose one of \['pad', 'mask', 'zero'\]",
        ),
        ({"baseline": 10**6}, ValueError, "outside the model's vocabulary"),
        ({"output": "loss"}, ValueError, "output='loss' is not supported"),
        ({"normalize": "l1"}, ValueError, "normalize='l1' is not supported"),
        ({"quadrature": "simpson"}, ValueError, "quadrature='simpson' is not supported"),
        ({"quadrature": "gauss_legendre"}, ValueError, "needs a nested rule"),  # with n_steps="auto"
        ({"tolerance": 0}, ValueError, "tolerance=0 is too small: use a number > 0"),
        ({"max_steps": 4}, ValueError, "max_steps=4"),
        ({"atol": -1}, ValueError, "atol=-1"),
        ({"internal_batch_size": 0}, ValueError, "internal_batch_size=0"),
    ],
)
def test_attribute_bad_options(tiny_classifier, options, error, match):
    tokenizer, model = tiny_classifier
    with pytest.raises(error, match=match):
        explain(model, tokenizer, TEXTS, "ig", **options)
