"""Are IG, LOO and AtMan scores bit-identical across a refactoring? (issue 16's check)

Explains the first 24 paragraphs of the test split (the course's cached classifier, their stored order, every
seed 42) with ``explain()``'s defaults for ``"ig"``, ``"loo"`` and ``"atman"`` and saves every score column and
every numeric per-document column; ``--compare`` does the same and compares with a saved run, value for value
(``numpy.array_equal``: no tolerance). Run it at the old commit with ``--save`` and at the new one with
``--compare`` on the same machine, same thread count (floating-point sums depend on both).

    git stash; python benchmarks/score_identity.py --save /tmp/before.npz; git stash pop
    python benchmarks/score_identity.py --compare /tmp/before.npz
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd

METHODS = ("ig", "loo", "atman")
N = 24


def _documents(result) -> pd.DataFrame:
    """The per-document table of an explain() result, whichever result type this version returns."""
    if hasattr(result, "documents") and not callable(result.documents):
        return result.documents
    from course_utils.attribution import documents

    return documents(result)


def _tokens(result) -> pd.DataFrame:
    return result.tokens if hasattr(result, "tokens") and isinstance(result.tokens, pd.DataFrame) else result


def scores() -> dict[str, np.ndarray]:
    from course_utils.attribution import explain
    from course_utils.benchmarking import test_paragraphs

    tokenizer, model, texts = test_paragraphs(N, note="score identity: ")
    arrays: dict[str, np.ndarray] = {}
    for method in METHODS:
        result = explain(model, tokenizer, texts, method, progress=False)
        tokens, documents = _tokens(result), _documents(result)
        arrays[f"{method}/token"] = np.array(tokens["token"].astype(str).tolist(), dtype=str)
        arrays[f"{method}/score"] = tokens["score"].to_numpy(dtype=np.float64)
        for column in documents.columns:
            if pd.api.types.is_numeric_dtype(documents[column]) and not pd.api.types.is_bool_dtype(
                documents[column]
            ):
                arrays[f"{method}/documents/{column}"] = documents[column].to_numpy(dtype=np.float64)
    return arrays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", metavar="PATH")
    group.add_argument("--compare", metavar="PATH")
    args = parser.parse_args()
    arrays = scores()
    if args.save:
        np.savez(args.save, **arrays)
        print(f"saved {len(arrays)} arrays ({sum(a.size for a in arrays.values())} values) to {args.save}")
        return 0
    before = dict(np.load(args.compare, allow_pickle=False))
    failures = []
    for key in sorted(set(before) | set(arrays)):
        if key not in arrays or key not in before:
            # a per-document column that one side lacks is reported, but only scores must exist on both
            print(f"only in {'before' if key in before else 'after'}: {key}")
            if key.endswith("/score") or key.endswith("/token"):
                failures.append(key)
            continue
        a, b = before[key], arrays[key]
        same = a.shape == b.shape and (
            np.array_equal(a, b) if a.dtype.kind in "US" else np.array_equal(a, b, equal_nan=True)
        )
        if not same:
            worst = np.nanmax(np.abs(a - b)) if a.shape == b.shape and a.dtype.kind == "f" else "shape/dtype"
            failures.append(key)
            print(f"DIFFERS: {key} (largest difference {worst})")
    n_values = sum(arrays[k].size for k in arrays if k in before)
    print(
        f"compared {len(set(before) & set(arrays))} arrays, {n_values} values: "
        + ("all bit-identical" if not failures else f"{len(failures)} differ")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
