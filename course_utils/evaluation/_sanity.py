"""Model-parameter randomisation test (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

Cascading randomisation: on a *copy* of the classifier, re-initialise the classification head, then the
encoder layers one by one from the top down, then the embeddings, and explain the same texts after every
step. An explanation that still looks the same after the weights it claims to explain were destroyed
depends on the input, not on the model — it fails the sanity check. A faithful method's rank correlation
with the original explanation should fall towards 0.

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

import copy

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..attribution import explain
from . import _agreement, _tables

ORIGINAL = "original"


def randomisation_steps(model) -> list[tuple[str, list[torch.nn.Module]]]:
    """The cascade for a ``…ForSequenceClassification`` BERT: ``[(name, modules), …]`` from the top down.

    ``"classifier"`` (the head and BERT's pooler), ``"layer L-1"`` … ``"layer 0"``, ``"embeddings"``.
    The modules belong to ``model``; use it on a copy.
    """
    base = getattr(model, "base_model", None)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if base is None or base is model or layers is None:
        raise TypeError(
            f"the randomisation test needs a transformers encoder classifier with .base_model.encoder.layer "
            f"(e.g. BertForSequenceClassification); got {type(model).__name__}"
        )
    head = [m for m in model.children() if m is not base]
    pooler = getattr(base, "pooler", None)
    if pooler is not None:
        head.append(pooler)
    steps = [("classifier", head)]
    steps += [(f"layer {i}", [layers[i]]) for i in reversed(range(len(layers)))]
    steps.append(("embeddings", [base.embeddings]))
    return steps


@torch.no_grad()
def reinitialise(module: torch.nn.Module, std: float, generator: torch.Generator) -> None:
    """Draw a module's weights again as BERT initialises them: N(0, std) for linear and embedding
    weights, zero biases, LayerNorm weight 1 and bias 0."""
    for sub in module.modules():
        if isinstance(sub, (torch.nn.Linear, torch.nn.Embedding)):
            sub.weight.copy_(torch.randn(sub.weight.shape, generator=generator) * std)
            if getattr(sub, "bias", None) is not None:
                sub.bias.zero_()
        elif isinstance(sub, torch.nn.LayerNorm):
            if sub.weight is not None:
                sub.weight.fill_(1.0)
            if sub.bias is not None:
                sub.bias.zero_()


def sanity_check_randomisation(
    model,
    tokenizer,
    texts,
    methods=("ig", "loo", "atman"),
    *,
    options=None,
    k: int = 5,
    seed: int = 0,
    n_steps: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Adebayo et al.'s cascading model-parameter randomisation for each method.

    Args:
        model, tokenizer: the trained classifier (it is NOT modified: every step works on a deep copy).
        texts: the texts to explain (a few: each step explains them all with every method again).
        methods: method names of :func:`course_utils.attribution.explain`.
        options: ``{method: {option: value}}`` passed to ``explain`` (e.g. ``{"ig": {"n_steps": 16}}``).
        k: top-k size for ``top_k_overlap``.
        seed: seeds the re-initialisation (``torch.Generator``) and the tie-breaking.
        n_steps: stop after this many cascade steps (default: all — head, every layer, embeddings).
        progress: a tqdm bar over the steps.

    Returns:
        tidy DataFrame, one row per (step, method, document): ``step`` (0 = original model), ``randomised``
        (the component re-initialised last: ``"original"``, ``"classifier"``, ``"layer 5"``, …),
        ``method, doc_id``, ``spearman``, ``spearman_abs`` (of |scores|), ``kendall``, ``top_k_overlap`` —
        agreement of the step's explanation with the original one (1 at step 0). The target of every
        step is the class the *original* model predicted, so only the model changes. Taught in notebook 05.
    """
    if isinstance(methods, str):
        methods = (methods,)
    methods = list(methods)
    options = dict(options or {})
    unknown = sorted(set(options) - set(methods))
    if unknown:
        raise ValueError(f"options given for {unknown}, which are not among methods={methods}")
    k = _tables.check_positive_int(k, "k")
    cascade = randomisation_steps(model)
    if n_steps is not None:
        cascade = cascade[: _tables.check_positive_int(n_steps, "n_steps")]
    std = float(getattr(model.config, "initializer_range", 0.02))

    def explain_all(m, targets=None):
        return {
            name: explain(m, tokenizer, texts, name, target=targets, progress=False, **options.get(name, {}))
            for name in methods
        }

    reference = explain_all(model)
    targets = {name: result.documents["target"].to_numpy() for name, result in reference.items()}
    copy_ = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(int(seed))
    rows = [_compare(reference, reference, 0, ORIGINAL, k, seed)]
    for step, (name, _) in enumerate(tqdm(cascade, desc="randomising", disable=not progress), start=1):
        for module in dict(randomisation_steps(copy_))[name]:
            reinitialise(module, std, generator)
        current = {
            m: explain(copy_, tokenizer, texts, m, target=targets[m], progress=False, **options.get(m, {}))
            for m in methods
        }
        rows.append(_compare(reference, current, step, name, k, seed))
    return pd.concat(rows, ignore_index=True)


def _compare(reference: dict, current: dict, step: int, name: str, k: int, seed: int) -> pd.DataFrame:
    parts = []
    for method, original in reference.items():
        now = current[method].tokens.assign(method=f"{method}·randomised")
        signed = _agreement.rank_agreement(original, now, k=k, seed=seed)
        absolute = _agreement.rank_agreement(original, now, k=k, absolute=True, seed=seed)
        parts.append(
            pd.DataFrame(
                {
                    "step": step,
                    "randomised": name,
                    "method": method,
                    "doc_id": signed["doc_id"],
                    "spearman": signed["spearman"],
                    "spearman_abs": absolute["spearman"],
                    "kendall": signed["kendall"],
                    "top_k_overlap": signed["top_k_overlap"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def sanity_summary(result: pd.DataFrame) -> pd.DataFrame:
    """Mean agreement with the original explanation per (step, method): the numbers behind the figure."""
    cols = ["spearman", "spearman_abs", "top_k_overlap"]
    out = result.groupby(["step", "randomised", "method"], sort=True)[cols].mean().reset_index()
    return out.sort_values(["method", "step"], kind="stable").reset_index(drop=True)
