"""Attributions for a whole corpus, cached on disk, and the tidy word and document tables made from them.

    from course_utils.corpus import explain_corpus, word_table, document_table
    result = explain_corpus(model, tokenizer, test, method="ig", target="Republican")   # resumable, cached
    result.tokens, result.documents, result.cache   # an Explanations (course_utils.attribution)
    words = word_table(result, test)          # one row per word occurrence, with party, president, year …
    docs = document_table(result, test)      # one row per paragraph: total, mass share of the top words …

:func:`explain_corpus` runs :func:`course_utils.attribution.explain` on a DataFrame in chunks of
``chunk_size`` rows and stores every finished chunk under ``cache_dir()/attributions/<key>/chunk-00000/``
(Parquet files + a manifest with their SHA-256). ``<key>`` hashes the model (class, labels and a checksum of
its weights), the tokenizer's content (vocabulary, special tokens, normalisation), the data (ids and texts),
the method and all its options — never a path, so a copied cache folder is reused — and any change gives a new
folder. Chunks are written atomically (:func:`course_utils._atomic.write_atomically`): an interrupted run
(Ctrl-C, crash) leaves only complete chunks, and the next run loads them — never rewriting them — and
computes the rest. A damaged chunk (its manifest or a file's checksum does not match) is recomputed.

Documents longer than the model's window are explained in overlapping windows by default (``long="window"``,
:mod:`course_utils.windows`); ``client=`` runs the chunks as Dask tasks (:mod:`course_utils.scale`); ``folder=``
puts the chunks elsewhere (the command line ``python -m course_utils explain``, :mod:`course_utils.corpus_cli`,
uses its ``--out`` folder).

The tables are R-friendly (:func:`course_utils.r_bridge.r_friendly`): plain strings, float64, int64 without
missing values and bool (R logical), ready for ``%%R -i``.

Taught in notebook 06 (downstream analysis in R).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ._atomic import remove_stale_temporaries, replace_json, write_atomically
from ._validation import check_choice, check_scalar
from .attribution import Explanations, explain, method_options, word_scores
from .attribution._result import token_table
from .environment import cache_dir
from .fingerprints import tokenizer_fingerprint
from .r_bridge import r_friendly

# bump when an attribution method's maths or the key change (2: IG auto mode refines fewer pieces;
# 3: warped nested rule; 4: key without paths)
CACHE_FORMAT = 4
MANIFEST = "manifest.json"
FILES = ("tokens.parquet", "documents.parquet")
WINDOWS_FILE = "windows.parquet"  # only in chunks of long="window" runs with long documents
METADATA = ("party", "president", "year", "speech_id")


# ------------------------------------------------------------------------------------------ checks
def _check_frame(frame, text_column: str, id_column: str) -> tuple[np.ndarray, list[str]]:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"frame must be a pandas DataFrame (one row per document), got {type(frame).__name__}"
        )
    for name, column in (("text_column", text_column), ("id_column", id_column)):
        if column not in frame.columns:
            raise ValueError(
                f"{name}={column!r} is not a column of frame; its columns are {list(frame.columns)}"
            )
    if len(frame) == 0:
        raise ValueError("frame has no rows: give at least one document")
    ids = frame[id_column]
    if ids.isna().any():
        raise ValueError(
            f"frame[{id_column!r}] has missing values: every document needs an id (drop or fill them)"
        )
    if not ids.is_unique:
        dup = ids[ids.duplicated()].iloc[0]
        raise ValueError(
            f"frame[{id_column!r}] is not unique (e.g. {dup!r} repeats): ids must name one document each"
        )
    return ids.to_numpy(), frame[text_column].tolist()


def _check_chunk_size(chunk_size) -> int:
    return check_scalar(chunk_size, "chunk_size", int, min_val=1, hint="(documents per cached chunk)")


def _check_target(target, n: int):
    """None, a label name or an index (same for all rows), or one per row (then sliced per chunk)."""
    if target is None or isinstance(target, (str, int, np.integer)):
        return target
    if isinstance(target, (pd.Series, np.ndarray, list, tuple)):
        values = list(target)
        if len(values) != n:
            raise ValueError(
                f"target has {len(values)} entries but frame has {n} rows: give one per row or one for all"
            )
        return [v.item() if isinstance(v, np.generic) else v for v in values]
    raise TypeError(
        f"target must be None, a label name, a class index or one per row, got {type(target).__name__}"
    )


# ------------------------------------------------------------------------------------------ the key
def model_fingerprint(model) -> dict:
    """What identifies a model for the cache: its class, labels and a checksum of its weights — never a path.

    The checksum hashes, for every tensor of the state dict, its name, shape, float64 sum and a strided
    sample of its values: any change to the weights (another fine-tune, other hyper-parameters) changes it.
    Where the model was loaded from (``config._name_or_path``) is left out, so a copied cache and a copied
    model folder give the same key.
    """
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            flat = tensor.detach().reshape(-1)
            step = max(1, flat.numel() // 1024)
            sample = flat[::step].to("cpu", torch.float64).numpy()  # (≤ ~1024,)
            total = float(flat.to(torch.float64).sum()) if flat.numel() else 0.0
            digest.update(f"{name}{tuple(tensor.shape)}{total!r}".encode())
            digest.update(sample.tobytes())
    config = model.config
    return {
        "class": type(model).__name__,
        "labels": {str(k): v for k, v in (config.id2label or {}).items()},
        "weights": digest.hexdigest()[:24],
    }


def _tokenizer_fingerprint(tokenizer) -> dict:
    """The tokenizer's content (vocabulary hash, special-token ids, normalisation and templates; see
    :func:`course_utils.fingerprints.tokenizer_fingerprint`), its length limit and a probe — never a path."""
    probe = tokenizer("Explaining BERT: 1984's unbelievable tax-cuts!")["input_ids"]
    limit = getattr(tokenizer, "model_max_length", None)
    return {
        **tokenizer_fingerprint(tokenizer),
        "probe": list(map(int, probe)),
        "model_max_length": limit if isinstance(limit, int) and limit < 100_000 else None,
    }


def _data_fingerprint(ids: np.ndarray, texts: list[str]) -> str:
    digest = hashlib.sha256()
    for i, text in zip(ids.tolist(), texts):
        digest.update(json.dumps([i, text]).encode())
    return digest.hexdigest()[:24]


def corpus_key(
    model,
    tokenizer,
    frame: pd.DataFrame,
    *,
    method: str = "ig",
    target=None,
    text_column: str = "text",
    id_column: str = "paragraph_id",
    chunk_size: int = 32,
    batch_size: int = 16,
    max_length: int | None = None,
    **options,
) -> str:
    """The cache key of :func:`explain_corpus` for these arguments (a 16-character hex string).

    It hashes the model (:func:`model_fingerprint`), the tokenizer, the data (ids and texts, in order), the
    method with all its options (defaults included, so a changed default also changes the key), the
    target, ``batch_size``, ``max_length`` and ``chunk_size``.
    """
    ids, texts = _check_frame(frame, text_column, id_column)
    spec = {
        "format": CACHE_FORMAT,
        "model": model_fingerprint(model),
        "tokenizer": _tokenizer_fingerprint(tokenizer),
        "data": _data_fingerprint(ids, texts),
        "n": len(ids),
        "method": method,
        "options": {**method_options(method), **options},
        "target": _check_target(target, len(ids)),
        "batch_size": batch_size,
        "max_length": max_length,
        "chunk_size": _check_chunk_size(chunk_size),
    }
    blob = json.dumps(spec, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def corpus_folder(key: str) -> Path:
    """Where the chunks of the run with ``key`` live: ``cache_dir()/attributions/<key>``."""
    return cache_dir() / "attributions" / key


# ---------------------------------------------------------------------------------------- chunks
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_chunk(
    tmp: Path,
    key: str,
    index: int,
    ids: list,
    tokens: pd.DataFrame,
    docs: pd.DataFrame,
    windows: pd.DataFrame | None = None,
) -> None:
    tmp.mkdir(parents=True)
    tokens.to_parquet(tmp / FILES[0], index=False)
    docs.to_parquet(tmp / FILES[1], index=False)
    names = FILES
    if windows is not None:  # long="window": one row per window (its own prediction and diagnostics)
        windows.to_parquet(tmp / WINDOWS_FILE, index=False)
        names = (*FILES, WINDOWS_FILE)
    manifest = {
        "format": CACHE_FORMAT,
        "key": key,
        "chunk": index,
        "ids": ids,
        "files": {name: _sha256(tmp / name) for name in names},
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, default=repr))


def _read_chunk(
    folder: Path, key: str, index: int, ids: list
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None] | str:
    """The chunk's (tokens, documents, windows or None) if it is complete and intact, else the reason it is not."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return f"unreadable manifest ({type(exc).__name__})"
    expected = {
        "format": CACHE_FORMAT,
        "key": key,
        "chunk": index,
        "ids": json.loads(json.dumps(ids, default=repr)),
    }
    if any(manifest.get(k) != v for k, v in expected.items()):
        return "its manifest belongs to other data"
    listed = manifest.get("files", {})
    names = (*FILES, WINDOWS_FILE) if WINDOWS_FILE in listed else FILES
    for name in names:
        if not (folder / name).is_file() or _sha256(folder / name) != listed.get(name):
            return f"{name} is missing or its checksum does not match"
    try:
        windows = pd.read_parquet(folder / WINDOWS_FILE) if WINDOWS_FILE in listed else None
        return pd.read_parquet(folder / FILES[0]), pd.read_parquet(folder / FILES[1]), windows
    except Exception as exc:  # pyarrow raises several error types for damaged files
        return f"Parquet could not be read ({type(exc).__name__})"


def _chunk_dir(folder: Path, index: int) -> Path:
    return folder / f"chunk-{index:05d}"


AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_autocast(autocast) -> str | None:
    """None (float32) or one of :data:`AUTOCAST` (``"bf16"``, ``"fp16"``)."""
    return check_choice(
        autocast, "autocast", (None, *AUTOCAST), hint=f"use None (float32) or one of {list(AUTOCAST)}"
    )


def _explain_chunk(
    model,
    tokenizer,
    texts: list[str],
    start: int,
    ids: np.ndarray,
    method: str,
    target,
    batch_size: int,
    max_length: int | None,
    options: dict,
    *,
    stride: int | None = None,
    windowed: bool = False,
    autocast: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Explain one chunk; doc_id becomes the frame's id (``ids[global row]``). ``windowed``: by
    :func:`course_utils.windows.explain_windows` (then the third item is its per-window table).
    ``autocast``: run the method under ``torch.autocast`` and add its effect to the documents table."""
    import contextlib

    series = pd.Series(texts, index=np.arange(start, start + len(texts)))
    device = next(model.parameters()).device
    context = torch.autocast(device.type, dtype=AUTOCAST[autocast]) if autocast else contextlib.nullcontext()
    with context:
        if windowed:
            from .windows import explain_windows

            result = explain_windows(
                model,
                tokenizer,
                series,
                method,
                target,
                stride=stride,
                batch_size=batch_size,
                progress=False,
                max_length=max_length,
                **options,
            )
        else:
            result = explain(
                model,
                tokenizer,
                series,
                method,
                target,
                batch_size=batch_size,
                progress=False,
                max_length=max_length,
                **options,
            )
    docs = result.documents.copy()
    windows = result.windows.copy() if windowed else None
    if autocast:
        _autocast_effect(model, tokenizer, texts, docs, windows, max_length, batch_size, autocast)
    tokens = result.tokens.copy()
    tokens["doc_id"], docs["doc_id"] = ids[tokens["doc_id"].to_numpy()], ids[docs["doc_id"].to_numpy()]
    if windows is not None:
        windows["doc_id"] = ids[windows["doc_id"].to_numpy()]
    return tokens, docs, windows


def _autocast_effect(
    model, tokenizer, texts, docs: pd.DataFrame, windows, max_length, batch_size, autocast
) -> None:
    """Add to ``docs`` (in place) what autocast changed: ``autocast``, ``probability_fp32`` (the target's
    probability in float32: for windowed documents the mean over windows) and ``autocast_probability_error``
    (``probability − probability_fp32``). The method's own diagnostics (IG's ``completeness_error``) were
    computed under autocast, so they show its effect on completeness directly."""
    from .attribution._inputs import max_length_of
    from .windows import _probabilities

    length = max_length_of(model, tokenizer, max_length)
    if windows is not None:  # the windows' texts are not kept: cut them again from their spans
        full = tokenizer(
            list(texts),
            add_special_tokens=False,
            truncation=False,
            verbose=False,
            return_offsets_mapping=True,
        )
        pieces, owner = [], []
        for d, text in enumerate(texts):
            offsets, word_ids = full["offset_mapping"][d], [int(w) for w in full.word_ids(d)]
            spans = windows.loc[windows["doc_id"] == docs["doc_id"].iloc[d], ["start", "stop"]].to_numpy()
            for a, b in spans:
                pieces.append(
                    text if (a, b) == (0, len(word_ids)) else text[offsets[a][0] : offsets[b - 1][1]]
                )
                owner.append(d)
        probs = _probabilities(model, tokenizer, pieces, length, batch_size)
        target = docs["target"].to_numpy()[owner]
        per_window = probs[np.arange(len(pieces)), target]
        windows["probability_fp32"] = per_window
        windows["autocast_probability_error"] = windows["probability"].to_numpy() - per_window
        fp32 = pd.Series(per_window).groupby(np.asarray(owner)).mean().to_numpy()
    else:
        import warnings

        with warnings.catch_warnings():  # explain() already warned about truncation once
            warnings.simplefilter("ignore", UserWarning)
            probs = _probabilities(model, tokenizer, list(texts), length, batch_size)
        fp32 = probs[np.arange(len(texts)), docs["target"].to_numpy()]
    docs["autocast"] = autocast
    docs["probability_fp32"] = fp32
    docs["autocast_probability_error"] = docs["probability"].to_numpy() - fp32


def _write_run_description(folder: Path, description: dict) -> None:
    """``run.json``: what the cached run is (for people browsing the cache); temp file + ``os.replace``."""
    path = folder / "run.json"
    if path.is_file():
        return
    replace_json(path, description)


def long_documents(model, tokenizer, texts: list[str], max_length: int | None = None) -> np.ndarray:
    """Indices of the texts longer than the model's window (``max_length`` tokens with [CLS]/[SEP])."""
    from .attribution._inputs import max_length_of
    from .windows import token_counts

    return np.flatnonzero(token_counts(tokenizer, texts) > max_length_of(model, tokenizer, max_length))


def explain_corpus(
    model,
    tokenizer,
    frame: pd.DataFrame,
    *,
    method: str = "ig",
    target=None,
    text_column: str = "text",
    id_column: str = "paragraph_id",
    chunk_size: int = 32,
    batch_size: int = 16,
    max_length: int | None = None,
    cache: bool = True,
    progress: bool = True,
    long: str = "window",
    stride: int | None = None,
    folder: str | os.PathLike | None = None,
    client=None,
    autocast: str | None = None,
    **options,
) -> Explanations:
    """Explain every row of ``frame`` with one method, chunk by chunk, cached on disk and resumable.

    Args:
        model, tokenizer: the classifier and its tokenizer (e.g. ``load_classifier()``).
        frame: one row per document, with a text column and a unique id column.
        method: ``"ig"`` (default), ``"loo"``, ``"atman"``, ``"shap"`` or ``"lime"``; ``**options`` are its
            options (``n_steps=…``).
        target: None (each document's predicted class), a label name (``"Republican"``) or class index for
            every row, or one per row.
        text_column, id_column: the columns holding the text and the document id (default ``"text"`` and
            ``"paragraph_id"``).
        chunk_size: documents per cached chunk (default 32): the most work an interruption can lose.
        batch_size, max_length: as in :func:`course_utils.attribution.explain`.
        cache: False computes everything and stores nothing.
        progress: a tqdm bar over documents (cached chunks count at once).
        long: what to do with documents longer than the model's window: ``"window"`` (default: overlapping
            windows, every token scored — :func:`course_utils.windows.explain_windows`; said once when it
            happens) or ``"truncate"`` (their ends get no scores). Only matters when a document is too long:
            otherwise both give the same result under the same cache key.
        stride: tokens between window starts (default a window less an eighth: 447 for BERT).
        folder: where the chunk folders go (default ``cache_dir()/attributions``); the run's chunks are in
            ``<folder>/<key>/``. The command line points it at its ``--out`` folder.
        client: a ``dask.distributed.Client``: each missing chunk becomes one task on its workers (the model is
            sent to each worker once; they write their chunks into ``folder``, which they must be able to
            reach — a shared file system), and this process assembles the tables. Needs the ``scale`` extra.
        autocast: None (default, float32), ``"bf16"`` or ``"fp16"``: run the method under ``torch.autocast``
            (faster on a GPU). The documents table then gets ``autocast``, ``probability_fp32`` and
            ``autocast_probability_error`` (and so does the windows table); the method's diagnostics (IG's
            ``completeness_error``) are those of the autocast run, so they show the effect on completeness.

    Returns:
        an :class:`~course_utils.attribution.Explanations`: ``.tokens`` the tidy token table of
        :func:`~course_utils.attribution.explain` (``doc_id, position, token, word_id, word, special, score,
        method, target, target_label, prediction, probability``) for all rows in frame order, with ``doc_id``
        = ``frame[id_column]`` (join the metadata on it, or use :func:`word_table` / :func:`document_table`);
        ``.documents`` (per-document diagnostics, same ``doc_id``), ``.windows`` (window mode with long
        documents: one row per window with its own prediction and diagnostics, else None), ``.options``, and
        ``.cache`` (``key``, ``folder``, ``loaded`` and ``computed`` chunk counts, ``recomputed`` damaged
        chunks).

    Raises:
        TypeError/ValueError: bad frame, columns, ids, chunk size, target, method, options, long or stride.
        KeyboardInterrupt: re-raised after an interruption; the finished chunks stay cached.
    """
    from .windows import check_long, default_stride

    ids, texts = _check_frame(frame, text_column, id_column)
    chunk_size = _check_chunk_size(chunk_size)
    target = _check_target(target, len(ids))
    long, stride = check_long(long, stride)
    autocast = check_autocast(autocast)
    method_options(method)  # an unknown method fails here, before any tokenising
    too_long = long_documents(model, tokenizer, texts, max_length) if long == "window" else np.array([], int)
    windowed = len(too_long) > 0
    key_options = dict(options)
    if autocast:
        key_options["autocast"] = autocast
    if windowed:  # only then does the result differ from truncation: the key changes only then
        from .attribution._inputs import max_length_of

        stride = default_stride(max_length_of(model, tokenizer, max_length)) if stride is None else stride
        key_options.update(long="window", stride=stride)
        print(
            f"{len(too_long)} of {len(ids)} documents are longer than the model's window: explaining them in "
            f"overlapping windows (long='window', stride={stride}); long='truncate' drops their ends instead"
        )
    key = corpus_key(
        model,
        tokenizer,
        frame,
        method=method,
        target=target,
        text_column=text_column,
        id_column=id_column,
        chunk_size=chunk_size,
        batch_size=batch_size,
        max_length=max_length,
        **key_options,
    )
    folder = corpus_folder(key) if folder is None else Path(folder) / key
    if client is not None and not cache:
        raise ValueError(
            "client=… needs cache=True: the workers hand their chunks over through the cache folder"
        )
    if cache:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)  # what a killed writer of an earlier run left (never read)
        _write_run_description(
            folder,
            {
                "key": key,
                "model": model_fingerprint(model),
                "method": method,
                "options": {**method_options(method), **key_options},
                "target": target,
                "n_documents": len(ids),
                "chunk_size": chunk_size,
                "id_column": id_column,
            },
        )
    starts = list(range(0, len(ids), chunk_size))
    parts: list = [None] * len(starts)
    status = {"loaded": 0, "computed": 0, "recomputed": 0}
    bar = tqdm(total=len(ids), desc=f"explain_corpus ({method})", unit="doc", disable=not progress)
    job = {
        "method": method,
        "batch_size": batch_size,
        "max_length": max_length,
        "options": options,
        "stride": stride,
        "windowed": windowed,
        "autocast": autocast,
    }
    try:
        missing = []
        for index, start in enumerate(starts):
            stop = min(start + chunk_size, len(ids))
            where = _chunk_dir(folder, index)
            found = (
                _read_chunk(where, key, index, ids[start:stop].tolist()) if cache and where.exists() else None
            )
            if isinstance(found, tuple):
                status["loaded"] += 1
                parts[index] = found
                bar.update(stop - start)
            else:
                if isinstance(found, str):
                    print(f"cached chunk {index} is damaged ({found}): recomputing it")
                    status["recomputed"] += 1
                missing.append(index)
        bar.set_postfix(cached=status["loaded"], computed=status["computed"])
        if client is not None and missing:
            from .scale import run_chunks

            chunks = {}
            for index in missing:
                start, stop = starts[index], min(starts[index] + chunk_size, len(ids))
                chunk_target = target[start:stop] if isinstance(target, list) else target
                chunks[index] = (
                    str(folder),
                    key,
                    index,
                    ids[start:stop],
                    texts[start:stop],
                    chunk_target,
                    job,
                )
            weights = model_fingerprint(model)["weights"]
            for index in run_chunks(
                client, model, tokenizer, _worker_chunk, chunks, weights=weights, key=key
            ):
                stop = min(starts[index] + chunk_size, len(ids))
                found = _read_chunk(_chunk_dir(folder, index), key, index, ids[starts[index] : stop].tolist())
                if not isinstance(found, tuple):
                    raise RuntimeError(
                        f"a worker reported chunk {index} done but it is not readable ({found}); "
                        f"is {folder} on a file system the workers share with this process?"
                    )
                parts[index] = found
                status["computed"] += 1
                bar.update(stop - starts[index])
                bar.set_postfix(cached=status["loaded"], computed=status["computed"])
        else:
            for index in missing:
                start = starts[index]
                stop = min(start + chunk_size, len(ids))
                chunk_ids = ids[start:stop].tolist()
                where = _chunk_dir(folder, index)
                chunk_target = target[start:stop] if isinstance(target, list) else target
                found = _explain_chunk(
                    model,
                    tokenizer,
                    texts[start:stop],
                    start,
                    ids,
                    method,
                    chunk_target,
                    batch_size,
                    max_length,
                    options,
                    stride=stride,
                    windowed=windowed,
                    autocast=autocast,
                )
                if cache:
                    _store_chunk(where, key, index, chunk_ids, found)
                status["computed"] += 1
                parts[index] = found
                bar.update(stop - start)
                bar.set_postfix(cached=status["loaded"], computed=status["computed"])
    except KeyboardInterrupt:
        bar.close()
        done = status["loaded"] + status["computed"]
        print(
            f"interrupted: {done} of {len(starts)} chunks are cached in {folder}; run the same call again to continue"
        )
        raise
    bar.close()
    if cache:
        remove_stale_temporaries(folder)  # e.g. a Dask worker killed inside write_atomically during this run
    windows = [p[2] for p in parts if p[2] is not None]
    return Explanations(
        tokens=pd.concat([p[0] for p in parts], ignore_index=True),
        documents=pd.concat([p[1] for p in parts], ignore_index=True),
        windows=pd.concat(windows, ignore_index=True) if windows else None,
        options={
            "method": method,
            "target": target,
            "batch_size": batch_size,
            "chunk_size": chunk_size,
            **method_options(method),
            **key_options,
        },
        cache={"key": key, "folder": str(folder) if cache else None, **status},
    )


def _worker_chunk(
    model, tokenizer, folder: str, key: str, index: int, ids: np.ndarray, texts: list[str], target, job: dict
) -> int:
    """On a Dask worker (:func:`course_utils.scale.run_chunks`): explain one chunk (``ids``: its slice of the
    frame's id array) and write it into ``folder`` (atomic), as the in-process loop does."""
    where = _chunk_dir(Path(folder), index)
    chunk_ids = ids.tolist()
    if where.exists() and isinstance(_read_chunk(where, key, index, chunk_ids), tuple):
        return index  # another attempt (or process) finished it already
    found = _explain_chunk(
        model,
        tokenizer,
        texts,
        0,
        ids,
        job["method"],
        target,
        job["batch_size"],
        job["max_length"],
        job["options"],
        stride=job["stride"],
        windowed=job["windowed"],
        autocast=job.get("autocast"),
    )
    _store_chunk(where, key, index, chunk_ids, found)
    return index


def _store_chunk(where: Path, key: str, index: int, chunk_ids: list, found: tuple) -> None:
    """Write a computed chunk atomically, unless another process finished it meanwhile (then keep its files)."""
    done = _read_chunk(where, key, index, chunk_ids) if where.exists() else None
    if not isinstance(done, tuple):
        write_atomically(where, lambda tmp: _write_chunk(tmp, key, index, chunk_ids, *found))


# ------------------------------------------------------------------------------------------ tables
def _metadata(
    frame: pd.DataFrame, id_column: str, metadata: Sequence[str], truth_column: str | None
) -> pd.DataFrame:
    columns = [id_column, *metadata] + (
        [truth_column] if truth_column and truth_column not in metadata else []
    )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame lacks column(s) {missing}; its columns are {list(frame.columns)} "
            f"(pass metadata=… / truth_column=None to use others)"
        )
    return frame[columns].rename(columns={id_column: "doc_id"})


def _join(table: pd.DataFrame, frame: pd.DataFrame, id_column: str, metadata, truth_column) -> pd.DataFrame:
    meta = _metadata(frame, id_column, metadata, truth_column)
    unknown = ~table["doc_id"].isin(meta["doc_id"])
    if unknown.any():
        raise ValueError(
            f"doc_id {table.loc[unknown, 'doc_id'].iloc[0]!r} is not in frame[{id_column!r}]: pass the "
            f"frame that was explained (and its id_column)"
        )
    out = table.merge(meta, on="doc_id", how="left", validate="many_to_one")
    if truth_column:
        out["correct"] = (out["prediction"] == out[truth_column].astype("str")).to_numpy(dtype=bool)
        if truth_column not in metadata:
            out = out.drop(columns=truth_column)
    return out


def word_table(
    table: Explanations | pd.DataFrame,
    frame: pd.DataFrame,
    *,
    id_column: str = "paragraph_id",
    metadata: Sequence[str] = METADATA,
    truth_column: str | None = "party",
) -> pd.DataFrame:
    """One row per word occurrence, with the document's metadata: the long table for word-level analysis.

    Args:
        table: the result of :func:`explain_corpus` (or its ``.tokens``; ``doc_id`` = the frame's ids).
        frame: the explained DataFrame, holding ``id_column`` and the ``metadata`` columns.
        metadata: document columns to copy onto every word (default party, president, year, speech_id).
        truth_column: the column with the true label name; adds ``correct`` (bool: prediction == truth).

    Returns:
        R-friendly DataFrame: ``doc_id, word_id, word, term`` (the word lower-cased, as the uncased model
        sees it), ``tokens, n_tokens, score`` (sum of the word's WordPiece scores), ``method, target,
        target_label, prediction, probability``, the metadata columns and ``correct``; [CLS]/[SEP] dropped.
    """
    words = word_scores(table)
    words.insert(words.columns.get_loc("word") + 1, "term", words["word"].str.lower())
    return r_friendly(_join(words, frame, id_column, metadata, truth_column))


def document_table(
    table: Explanations | pd.DataFrame,
    frame: pd.DataFrame,
    *,
    k: int = 5,
    id_column: str = "paragraph_id",
    metadata: Sequence[str] = METADATA,
    truth_column: str | None = "party",
) -> pd.DataFrame:
    """One row per document: how much attribution there is and how concentrated it is, with metadata.

    Args:
        table: the result of :func:`explain_corpus` (or its ``.tokens``).
        frame, id_column, metadata, truth_column: as in :func:`word_table`.
        k: how many top words the concentration measure uses (default 5).

    Returns:
        R-friendly DataFrame, one row per document in table order: ``doc_id``, ``total`` (sum of all token
        scores: for IG ≈ f(x) − f(x′)), ``mass`` (sum of |word scores|), ``positive_share`` (share of the mass
        on words supporting the target), ``top{k}_share`` (share of the mass on the k words with the
        largest |score|), ``n_words``, ``n_tokens`` (int64), ``method, target_label, prediction,
        probability``, the metadata and ``correct``.
    """
    k = check_scalar(k, "k", int, min_val=1, hint="(number of top words)")
    table = token_table(table)
    words = word_scores(table)
    words["abs"] = words["score"].abs()
    words["rank"] = words.groupby("doc_id", sort=False)["abs"].rank(method="first", ascending=False)
    grouped = words.groupby("doc_id", sort=False)
    mass = grouped["abs"].sum()
    per_doc = pd.DataFrame(
        {
            "mass": mass,
            "positive_share": grouped["score"].apply(lambda s: s.clip(lower=0).sum()) / mass,
            f"top{k}_share": words[words["rank"] <= k].groupby("doc_id", sort=False)["abs"].sum() / mass,
            "n_words": grouped.size().astype(np.int64),
        }
    )
    per_token = table.groupby("doc_id", sort=False).agg(
        total=("score", "sum"),
        n_tokens=("score", "size"),
        method=("method", "first"),
        target_label=("target_label", "first"),
        prediction=("prediction", "first"),
        probability=("probability", "first"),
    )
    docs = per_token.join(per_doc, how="left").reset_index()
    docs["n_tokens"] = docs["n_tokens"].astype(np.int64)
    order = [
        "doc_id",
        "total",
        "mass",
        "positive_share",
        f"top{k}_share",
        "n_words",
        "n_tokens",
        "method",
        "target_label",
        "prediction",
        "probability",
    ]
    docs = _join(docs[order], frame, id_column, metadata, truth_column)
    return r_friendly(docs)


def top_words(
    words: pd.DataFrame, by: str | None = "party", *, k: int = 10, min_docs: int = 3
) -> pd.DataFrame:
    """The terms with the largest mean attribution (towards the target), and the smallest, per group.

    Args:
        words: a :func:`word_table`.
        by: a column to rank within (default ``"party"``), or None for the whole corpus.
        k: terms per group and direction.
        min_docs: keep terms that occur in at least this many documents of the group (rare words have noisy means).

    Returns:
        DataFrame ``<by>, direction`` ("for"/"against" the target), ``rank`` (1 = strongest), ``term,
        mean_score, n, n_docs``: at most ``k`` terms per group and direction, "for" terms with a positive
        mean score, "against" terms with a negative one (fewer than ``k`` when there are not enough).
    """
    keys = [by] if by else []
    stats = (
        words.groupby(keys + ["term"], sort=True)
        .agg(mean_score=("score", "mean"), n=("score", "size"), n_docs=("doc_id", "nunique"))
        .reset_index()
    )
    stats = stats[stats["n_docs"] >= min_docs]
    parts = []
    for direction, ascending in (("for", False), ("against", True)):
        signed = stats[stats["mean_score"] > 0] if direction == "for" else stats[stats["mean_score"] < 0]
        ranked = signed.sort_values(
            keys + ["mean_score", "term"], ascending=[True] * len(keys) + [ascending, True]
        )
        top = ranked.groupby(keys, sort=True).head(k) if keys else ranked.head(k)
        top = top.assign(direction=direction)
        top["rank"] = top.groupby(keys, sort=False).cumcount() + 1 if keys else np.arange(1, len(top) + 1)
        parts.append(top)
    out = pd.concat(parts, ignore_index=True)
    return out[keys + ["direction", "rank", "term", "mean_score", "n", "n_docs"]].reset_index(drop=True)


def term_trend(words: pd.DataFrame, terms: dict[str, Sequence[str]], by: str = "year") -> pd.DataFrame:
    """Per ``by`` value (default year): the mean attribution per document carried by each set of ``terms``.

    Args:
        words: a :func:`word_table`.
        terms: name → list of terms, e.g. ``{"Republican-leaning": [...], "Democratic-leaning": [...]}``.

    Returns:
        long DataFrame ``<by>, terms, score_per_doc`` (sum of the set's word scores / documents in that
        year), ``n_docs`` (documents in that year) and ``occurrences``.
    """
    n_docs = words.groupby(by)["doc_id"].nunique()
    rows = []
    for name, members in terms.items():
        hit = words[words["term"].isin(list(members))]
        agg = hit.groupby(by)["score"].agg(["sum", "size"]).reindex(n_docs.index, fill_value=0)
        rows.append(
            pd.DataFrame(
                {
                    by: n_docs.index,
                    "terms": name,
                    "score_per_doc": agg["sum"].to_numpy() / n_docs.to_numpy(),
                    "n_docs": n_docs.to_numpy(),
                    "occurrences": agg["size"].to_numpy().astype(np.int64),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------------------- figures
def mass_curve(words: pd.DataFrame, max_rank: int = 20) -> pd.DataFrame:
    """How concentrated attribution is: the share of each document's |attribution| on its top r words.

    Returns:
        DataFrame ``rank`` (1 … max_rank), ``mean_share`` (mean over documents of the share of the mass on
        the ``rank`` words with the largest |score|), ``uniform_share`` (the same if every word had the
        same |score|: rank / n_words, capped at 1).
    """
    absolute = words.assign(abs=words["score"].abs()).sort_values(["doc_id", "abs"], ascending=[True, False])
    grouped = absolute.groupby("doc_id", sort=False)["abs"]
    share = grouped.cumsum() / grouped.transform("sum")
    rank = grouped.cumcount() + 1
    n_words = grouped.transform("size")
    rows = []
    for r in range(1, max_rank + 1):
        at = share.where(rank == r).groupby(absolute["doc_id"]).max()  # NaN for documents shorter than r
        filled = at.fillna(1.0)  # a document with fewer than r words has all its mass in its top r
        uniform = np.minimum(1.0, r / n_words.groupby(absolute["doc_id"]).first())
        rows.append((r, float(filled.mean()), float(uniform.mean())))
    return pd.DataFrame(rows, columns=["rank", "mean_share", "uniform_share"])


def mass_figure(words: pd.DataFrame, docs: pd.DataFrame, *, k: int = 5, max_rank: int = 20):
    """Two panels: the mean share of attribution mass on the top r words (vs. a uniform spread), and the
    distribution of the top-``k`` share for correct and wrong predictions. Taught in notebook 06."""
    from matplotlib.figure import Figure

    from .plotting import OKABE_ITO

    curve = mass_curve(words, max_rank)
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(curve["rank"], curve["mean_share"], marker="o", color=OKABE_ITO["blue"], label="attribution")
    left.plot(
        curve["rank"], curve["uniform_share"], ls="--", color=OKABE_ITO["black"], label="uniform over words"
    )
    left.set(
        xlabel="top r words (by |score|)",
        ylabel="mean share of |attribution|",
        ylim=(0, 1.02),
        title="How much of a paragraph's attribution sits on few words",
    )
    left.legend(frameon=False)
    column = f"top{k}_share"
    bins = np.linspace(0, 1, 21)
    for correct, colour, label in (
        (True, OKABE_ITO["bluish_green"], "correct"),
        (False, OKABE_ITO["vermillion"], "wrong"),
    ):
        values = docs.loc[docs["correct"] == correct, column]
        right.hist(values, bins=bins, alpha=0.6, color=colour, label=f"{label} (n={len(values)})")
    right.set(
        xlabel=f"share of |attribution| on the top {k} words",
        ylabel="paragraphs",
        title="Concentration by prediction correctness",
    )
    right.legend(frameon=False)
    return fig


def party_words_figure(trend: pd.DataFrame, by: str = "year", *, title: str | None = None):
    """Lines of :func:`term_trend`: attribution per paragraph carried by each set of terms, over ``by``.

    Taught in notebook 06 ("party words over time").
    """
    from matplotlib.figure import Figure

    from .plotting import OKABE_ITO

    colours = [OKABE_ITO[c] for c in ("vermillion", "blue", "bluish_green", "orange", "reddish_purple")]
    fig = Figure(figsize=(7.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for (name, part), colour in zip(trend.groupby("terms", sort=False), colours * 3):
        ax.plot(part[by], part["score_per_doc"], marker="o", color=colour, label=name)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel=by, ylabel="attribution per paragraph", title=title or "Party words over time")
    ax.legend(frameon=False)
    return fig
