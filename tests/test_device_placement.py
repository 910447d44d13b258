"""Every code path that builds tensors puts them on the model's device (issue 15, "GPU when present").

The machine running the tests usually has no GPU, so tests/device_check.py plays one: under
``VirtualAccelerator(model)`` the model's tensors count as being on an accelerator, tensors built without
``device=`` as being on the host, and any op that mixes the two (as CUDA would refuse) raises ``DeviceLeak``
with the stack of the offending line. The first tests prove the harness catches planted leaks; the rest run
fine-tuning, ``explain`` with every method, the corpus, influence, widget, evaluation, embeddings and audit
paths under it with a tiny random BERT.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from device_check import ACCELERATOR, DeviceLeak, VirtualAccelerator

from course_utils import audit, corpus, embeddings, models, widgets
from course_utils import evaluation as ev
from course_utils import influence as inf
from course_utils.attribution import explain

TEXTS = [
    "We will cut taxes for working families.",
    "Health care is a right for every American.",
    "Freedom!",
    "Our economy is strong and our union is stronger than ever before.",
]
ALL_METHODS = [
    ("ig", {"n_steps": 4}),
    ("ig", {"n_steps": "auto", "max_steps": 16}),
    ("loo", {}),
    ("atman", {}),
    ("atman", {"conceptual": True, "level": "word"}),
    ("shap", {"max_evals": 20}),
    ("lime", {"num_samples": 30}),
]


def _inputs(tokenizer, texts=TEXTS):
    return tokenizer(list(texts), padding=True, return_tensors="pt")


# ------------------------------------------------------------------------------------- the harness itself
def test_harness_catches_host_tensor_added_to_model_output(tiny):
    tokenizer, model = tiny
    with pytest.raises(DeviceLeak, match=r"aten\.add\.Tensor mixes accelerator tensors with host tensors"):
        with VirtualAccelerator(model):
            logits = model(**_inputs(tokenizer).to(model.device)).logits  # (4, 2) on the accelerator
            bias = torch.zeros(logits.shape)  # planted bug: built on the host
            logits + bias


def test_harness_leak_message_points_at_the_offending_line(tiny):
    tokenizer, model = tiny
    with pytest.raises(DeviceLeak) as caught:
        with VirtualAccelerator(model):
            logits = model(**_inputs(tokenizer).to(model.device)).logits
            torch.softmax(logits, -1) * torch.tensor([1.0, 2.0])  # planted bug
    assert "test_harness_leak_message_points_at_the_offending_line" in str(caught.value)


def test_harness_catches_host_inputs_to_forward(tiny):
    tokenizer, model = tiny
    with pytest.raises(DeviceLeak, match="passed to BertForSequenceClassification.forward"):
        with VirtualAccelerator(model):
            model(**_inputs(tokenizer))  # planted bug: the tokenizer's tensors were never moved


def test_harness_catches_numpy_of_accelerator_tensor(tiny):
    tokenizer, model = tiny
    with pytest.raises(DeviceLeak, match=r"numpy\(\) of an accelerator tensor"):
        with VirtualAccelerator(model):
            model(**_inputs(tokenizer).to(model.device)).logits.detach().numpy()  # planted bug: no .cpu()


def test_harness_catches_host_tensor_indexed_by_device_indices(tiny):
    tokenizer, model = tiny
    with pytest.raises(DeviceLeak, match="indexes a host tensor"):
        with VirtualAccelerator(model):
            logits = model(**_inputs(tokenizer).to(model.device)).logits
            torch.zeros(4, 2)[logits.argmax(1)]  # planted bug: host table, device indices


def test_harness_catches_a_leak_the_code_swallowed(tiny):
    tokenizer, model = tiny
    with pytest.raises(DeviceLeak):
        with VirtualAccelerator(model):
            try:
                model.classifier.weight + torch.ones(model.classifier.weight.shape)
            except Exception:
                pass


def test_harness_allows_what_cuda_allows(tiny):
    tokenizer, model = tiny
    with VirtualAccelerator(model) as va:
        assert model.device == ACCELERATOR and next(model.parameters()).device == ACCELERATOR
        logits = model(**_inputs(tokenizer).to(model.device)).logits  # (4, 2)
        assert logits.device == ACCELERATOR
        logits * torch.tensor(2.0)  # 0-dim host scalar
        logits + torch.ones(logits.shape, device=logits.device)
        logits[torch.tensor([0, 2])]  # host index tensor
        out = torch.zeros(logits.shape)
        out[:] = logits.detach()  # cross-device copy
        assert logits.detach().cpu().device == torch.device("cpu") and logits.device == ACCELERATOR
        assert not va.on_accelerator(torch.zeros(3)) and va.on_accelerator(torch.zeros(3).to(model.device))
        host = torch.ones(2)
        host.to(model.device)
        assert not va.on_accelerator(host)  # moving makes a new tensor; the host one stays
        model.train()
        loss = torch.nn.functional.cross_entropy(
            model(**_inputs(tokenizer).to(model.device)).logits,
            torch.tensor([0, 1, 0, 1], device=model.device),
        )
        loss.backward()  # backward ops are checked too
        assert va.on_accelerator(model.classifier.weight.grad)
        model.eval()
    assert not va.leaks


def _host_only(fn):
    """``fn`` with its ``device`` argument (last positional) replaced by the host: a planted library bug."""

    def planted(*args, **kwargs):
        return fn(*args[:-1], torch.device("cpu"), **kwargs)

    return planted


@pytest.mark.parametrize("where", ["attribution", "models", "embeddings"])
def test_harness_catches_a_planted_library_leak(tiny, monkeypatch, where):
    """Drop one device placement in the library: the paths below would then fail on a GPU, and under the harness."""
    from course_utils import _inference
    from course_utils.attribution import _inputs

    tokenizer, model = tiny
    if where == "attribution":
        monkeypatch.setattr(_inputs, "padded_batch", _host_only(_inputs.padded_batch))
        run = lambda: explain(model, tokenizer, TEXTS[:2], "ig", n_steps=4, progress=False)  # noqa: E731
    elif where == "models":
        monkeypatch.setattr(_inference, "pad", _host_only(_inference.pad))  # predict_proba pads there
        run = lambda: models.predict_proba(model, tokenizer, TEXTS)  # noqa: E731
    else:
        monkeypatch.setattr(embeddings, "_device", lambda model: torch.device("cpu"))
        run = lambda: embeddings.contextual_vectors(model, tokenizer, ["cut taxes now"], "taxes")  # noqa: E731
    run()  # fine on a CPU-only machine …
    with pytest.raises(DeviceLeak):  # … but not on an accelerator
        with VirtualAccelerator(model):
            run()


# ----------------------------------------------------------------------------------- the library's paths
def test_fine_tune_and_predict_stay_on_the_device(tiny):
    tokenizer, model = tiny
    with VirtualAccelerator(model):
        result = models.fine_tune(
            model,
            tokenizer,
            TEXTS,
            [0, 1, 0, 1],
            epochs=1,
            batch_size=2,
            max_length=16,
            val_texts=TEXTS[:2],
            val_labels=[0, 1],
            progress=False,
        )
        proba = models.predict_proba(model, tokenizer, TEXTS, batch_size=3)
    assert len(result.train_loss) == 1 and proba.shape == (4, 2)


@pytest.mark.parametrize(("method", "options"), ALL_METHODS, ids=lambda v: v if isinstance(v, str) else None)
def test_explain_stays_on_the_device(tiny_classifier, method, options):
    tokenizer, model = tiny_classifier
    with VirtualAccelerator(model):
        table = explain(model, tokenizer, TEXTS[:3], method, progress=False, batch_size=2, **options)
        with_targets = explain(model, tokenizer, TEXTS[:2], method, [1, 0], progress=False, **options)
    assert set(table.tokens["doc_id"]) == {0, 1, 2} and set(with_targets.tokens["target"]) == {0, 1}


def test_explain_corpus_stays_on_the_device(tiny_classifier):
    tokenizer, model = tiny_classifier
    frame = pd.DataFrame({"text": TEXTS, "paragraph_id": [f"p{i}" for i in range(len(TEXTS))]})
    with VirtualAccelerator(model):
        table = corpus.explain_corpus(
            model, tokenizer, frame, method="ig", n_steps=4, chunk_size=2, cache=False, progress=False
        )
    assert set(table.tokens["doc_id"]) == set(frame["paragraph_id"])


def test_influence_stays_on_the_device(tiny_classifier):
    tokenizer, model = tiny_classifier
    labels = torch.tensor([0, 1, 0, 1])
    with VirtualAccelerator(model):
        features = inf.training_features(model, tokenizer, TEXTS, batch_size=3, progress=False)  # (4, 32) CPU
        head = inf.classifier_head(model)
        targets = torch.tensor([1, 0])
        scores = inf.head_influence(head, features, labels, features[:2], targets)
        tracin = inf.head_influence(head, features, labels, features[:2], targets, method="tracin")
        captum = inf.captum_tracin(head, features, labels, features[:2], targets)
        inf.loss_gradients(head, features, labels)
        inf.head_hessian(head, features)
        inf.damping_table(model, features, labels, dampings=(0.1, 1.0))
        fitted = inf.fit_head(features, labels, damping=0.1)
        inf.removal_check(features, labels, features[:2], targets, k=1, n_random=1)
    np.testing.assert_allclose(captum, tracin, rtol=1e-4, atol=1e-6)
    assert scores.shape == tracin.shape == (2, 4) and fitted.in_features == features.shape[1]


@pytest.mark.parametrize("method", ["ig", "loo", "atman", "shap", "lime"])
def test_widget_stays_on_the_device(tiny_classifier, method):
    tokenizer, model = tiny_classifier
    small = {"ig": {"n_steps": 4}, "shap": {"max_evals": 20}, "lime": {"num_samples": 30}}.get(method, {})
    with VirtualAccelerator(model):
        view = widgets.explain_for_widget(model, tokenizer, TEXTS[0], method, **small)
        html = widgets.render_explanation(
            model, tokenizer, TEXTS[1], method, "Republican", level="word", **small
        )
    assert view.prediction in ("Democratic", "Republican") and "explaining-bert-explorer" in html


def test_evaluation_stays_on_the_device(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, TEXTS[:3], "loo", progress=False)
    with VirtualAccelerator(model):
        deletion = ev.deletion_curve(model, tokenizer, table, fractions=[0.0, 0.5, 1.0], progress=False)
        insertion = ev.insertion_curve(
            model,
            tokenizer,
            table,
            fractions=[0.0, 0.5, 1.0],
            level="word",
            replacement="delete",
            progress=False,
        )
        comp = ev.aopc_comprehensiveness(model, tokenizer, table, bins=[0.1, 0.5], progress=False)
        suff = ev.aopc_sufficiency(model, tokenizer, table, bins=[0.1, 0.5], progress=False)
        sanity = ev.sanity_check_randomisation(model, tokenizer, TEXTS[:2], ("atman",), progress=False)
        cost = ev.cost_table(model, tokenizer, TEXTS[:2], {"loo": {}, "ig": {"n_steps": 4}}, warm_up=False)
    assert len(deletion.auc) and len(insertion.auc) and len(comp) and len(suff) and len(sanity) and len(cost)


def test_embeddings_stay_on_the_device(tiny_classifier):
    tokenizer, model = tiny_classifier
    with VirtualAccelerator(model):
        batch = embeddings.encode(model, tokenizer, TEXTS)
        parts = embeddings.embedding_components(model, tokenizer, TEXTS[:2])
        rebuilt = embeddings.rebuild_embeddings(model, parts.token, parts.segment, parts.position)
        vectors = embeddings.contextual_vectors(
            model, tokenizer, ["taxes are high", "cut taxes now"], "taxes"
        )
        sims = embeddings.cosine_matrix(vectors.contextual)
        amap = embeddings.attention_map(model, tokenizer, TEXTS[0])
        heads = embeddings.head_summary(model, tokenizer, (TEXTS[0], TEXTS[1]))
    assert batch["input_ids"].shape[0] == 4 and rebuilt.shape[0] == 2 and sims.shape == (2, 2)
    assert len(amap.tokens) and len(heads)


def test_audit_stays_on_the_device(tiny_classifier):
    tokenizer, model = tiny_classifier
    table = explain(model, tokenizer, TEXTS[:2], "loo", progress=False)
    with VirtualAccelerator(model):
        swapped = audit.counterfactual(model, tokenizer, TEXTS, {"taxes": "levies"}, target="Republican")
        attention = audit.attention_explanation(model, tokenizer, table, batch_size=1)
    assert len(swapped) and np.allclose(attention.groupby("doc_id")["score"].sum(), 1.0, atol=1e-5)


def test_loaded_models_land_on_the_device():
    with (
        VirtualAccelerator() as va
    ):  # no model yet: new_classifier/load_encoder load one and move it to get_device()
        tokenizer, model = models.new_classifier()
        assert model.device == ACCELERATOR and all(va.on_accelerator(p) for p in model.parameters())
        proba = models.predict_proba(model, tokenizer, TEXTS[:2])
        enc_tokenizer, encoder = models.load_encoder()
        assert encoder.device == ACCELERATOR
        vectors = embeddings.contextual_vectors(
            encoder, enc_tokenizer, ["cut taxes now", "taxes rise"], "taxes"
        )
    assert proba.shape == (2, 2) and len(vectors.contextual) == 2


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA GPU; the virtual accelerator above covers CPU-only machines",
)
def test_real_gpu_fine_tune_and_explain(tiny):
    """On a machine with a GPU, the same paths on the real device."""
    tokenizer, model = tiny
    model = model.to("cuda")
    models.fine_tune(
        model, tokenizer, TEXTS, [0, 1, 0, 1], epochs=1, batch_size=2, max_length=16, progress=False
    )
    for method, options in ALL_METHODS:
        table = explain(model, tokenizer, TEXTS[:2], method, progress=False, **options)
        assert set(table.tokens["doc_id"]) == {0, 1}
    view = widgets.explain_for_widget(model, tokenizer, TEXTS[0], "loo")
    features = inf.training_features(model, tokenizer, TEXTS, progress=False)
    tracin = inf.captum_tracin(
        inf.classifier_head(model), features, torch.tensor([0, 1, 0, 1]), features[:1], torch.tensor([1])
    )
    assert view.prediction in ("Democratic", "Republican") and tracin.shape == (1, 4)
