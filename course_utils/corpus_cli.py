"""The corpus command line: ``python -m course_utils explain CORPUS.{csv,parquet} …`` → a folder of tidy tables.

    python -m course_utils explain speeches.csv --method ig --target Republican --out runs/ig
    python -m course_utils explain speeches.parquet --model path/to/classifier --text-column body --id-column doc
    python -m course_utils explain speeches.csv --dry-run            # counts and a time estimate, nothing written
    python -m course_utils explain speeches.csv --workers 4          # a local Dask cluster (the `scale` extra)

It runs :func:`course_utils.corpus.explain_corpus` on the file and writes, into ``--out``:

* ``tokens.parquet``: one row per token (:func:`~course_utils.attribution.explain`'s table),
* ``words.parquet``: one row per word occurrence (:func:`~course_utils.corpus.word_table`),
* ``documents.parquet``: one row per document — :func:`~course_utils.corpus.document_table` joined with the
  method's per-document diagnostics (IG's ``completeness_error`` …; in window mode ``n_windows`` …),
* ``windows.parquet``: one row per window, only when some document was longer than the model's window,
* ``run.json``: model fingerprint, method, options, versions, counts and timings,
* ``chunks/<key>/chunk-*/``: the cached chunks. A rerun of the same command resumes from them (Ctrl-C
  loses at most the chunks in progress); a changed model, data or option gives another ``<key>``, so old
  chunks are never reused for it.

Bad input (a missing column, an unreadable file, an empty corpus, a model folder that is not a sequence
classifier …) stops with one line on stderr saying what to do, and exit code 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ._atomic import replace_file, replace_json

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEFAULT_ID = "id"
VERSIONED = (
    "explaining-bert",
    "torch",
    "transformers",
    "pandas",
    "numpy",
    "pyarrow",
    "captum",
    "shap",
    "lime",
    "tokenizers",
    "dask",
    "distributed",
)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


# ------------------------------------------------------------------------------------------ parser
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``explain`` subcommand's arguments (used by ``course_utils.__main__``)."""
    parser.add_argument("corpus", help="a .csv or .parquet file, one row per document")
    parser.add_argument(
        "--model",
        default=None,
        help="folder of a fine-tuned …ForSequenceClassification model (with its tokenizer), or a base "
        "model name for load_classifier(); default: the course's cached party classifier",
    )
    parser.add_argument("--method", default="ig", choices=("ig", "loo", "atman", "shap", "lime"))
    parser.add_argument(
        "--target", default=None, help="class to explain (label name or index); default: the prediction"
    )
    parser.add_argument("--text-column", default="text")
    parser.add_argument(
        "--id-column",
        default=None,
        help=f"unique document id column (default {DEFAULT_ID!r}; if the file has none, the row number)",
    )
    parser.add_argument("--out", default=None, help="output folder (default: <corpus name>-<method>/ here)")
    parser.add_argument("--chunk-size", type=int, default=32, help="documents per cached chunk (default 32)")
    parser.add_argument("--batch-size", type=int, default=16, help="documents per batch (default 16)")
    parser.add_argument(
        "--max-length", type=int, default=None, help="tokens per window (default: the model's maximum)"
    )
    parser.add_argument(
        "--long",
        default="window",
        choices=("window", "truncate"),
        help="documents longer than the model's window: overlapping windows (default) or truncation",
    )
    parser.add_argument(
        "--stride",
        type=int,
        default=None,
        help="tokens between window starts (default 447 for BERT: windows share 64 tokens)",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a method option, e.g. --option n_steps=16 (repeatable; values are JSON or strings)",
    )
    parser.add_argument(
        "--metadata", default="", help="comma-separated columns to copy into words/documents tables"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--autocast",
        default=None,
        choices=("bf16", "fp16"),
        help="run the method under torch.autocast (GPU speed); documents.parquet reports the effect",
    )
    parser.add_argument(
        "--scheduler", default=None, help="address of a running Dask scheduler (tcp://host:8786)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="start a local Dask cluster of N worker processes"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="count documents and tokens and estimate the time from a measured sample; write nothing",
    )
    parser.add_argument("--sample", type=int, default=8, help="documents the dry run times (default 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


# ------------------------------------------------------------------------------------------ inputs
def read_corpus(path: str | os.PathLike, text_column: str, id_column: str | None):
    """``(frame, id_column, n_blank)``: the corpus as a DataFrame with a unique id column, that column's name,
    and how many rows were dropped for a missing or blank text.

    Rows whose text is missing or blank are dropped (and counted). ``id_column=None`` uses ``"id"`` when
    the file has it, else the row number (a new column ``"row"``).

    Raises:
        UsageError: the file is missing, unreadable or of another type; a column is missing; no document
            remains; ids repeat or are missing.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"cannot read {path}: no such file (give the path of a .csv or .parquet corpus)")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if ".parquet" in suffixes:
            frame = pd.read_parquet(path)
        elif ".csv" in suffixes:
            frame = pd.read_csv(path)
        else:
            raise UsageError(
                f"cannot read {path}: expected a .csv or .parquet file, got {path.suffix or 'no extension'}"
            )
    except UsageError:
        raise
    except pd.errors.EmptyDataError:
        raise UsageError(
            f"{path} is empty: the corpus needs a header row and at least one document"
        ) from None
    except Exception as exc:  # pandas/pyarrow raise many types for damaged files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"cannot read {path} ({type(exc).__name__}: {first}): check it is a valid "
            f"{'Parquet' if '.parquet' in suffixes else 'UTF-8 CSV'} file"
        ) from None
    if text_column not in frame.columns:
        raise UsageError(
            f"{path} has no column {text_column!r} (its columns: {', '.join(map(str, frame.columns))}); "
            "name the text column with --text-column"
        )
    if id_column is None:
        if DEFAULT_ID in frame.columns:
            id_column = DEFAULT_ID
        else:
            id_column = "row"
            frame = frame.assign(row=range(len(frame)))
    elif id_column not in frame.columns:
        raise UsageError(
            f"{path} has no column {id_column!r} (its columns: {', '.join(map(str, frame.columns))}); "
            "name the id column with --id-column, or leave it out to number the rows"
        )
    text = frame[text_column]
    blank = text.isna() | ~text.map(lambda t: isinstance(t, str) and bool(t.strip()))
    frame = frame[~blank].reset_index(drop=True)
    if len(frame) == 0:
        raise UsageError(
            f"{path} has no documents (no row with a non-empty {text_column!r}): nothing to explain"
        )
    ids = frame[id_column]
    if ids.isna().any() or not ids.is_unique:
        raise UsageError(
            f"column {id_column!r} of {path} has missing or repeated ids: give a column with one unique "
            "id per document (--id-column), or leave it out to number the rows"
        )
    return frame, id_column, int(blank.sum())


def load_model(name: str | None, device: str):
    """``(tokenizer, model, description)`` for ``--model`` on ``device`` ("auto", "cpu" or "cuda").

    Raises:
        UsageError: a folder without a sequence classifier or tokenizer; CUDA asked for but absent.
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            "--device cuda: this machine has no CUDA GPU torch can use; use --device cpu or auto"
        )
    if name is not None and Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        config_file = folder / "config.json"
        if not config_file.is_file():
            raise UsageError(
                f"--model {folder}: no config.json there, so it is not a saved model; give the folder "
                "save_pretrained() wrote for a …ForSequenceClassification model"
            )
        try:
            architectures = json.loads(config_file.read_text()).get("architectures") or []
        except ValueError:
            raise UsageError(
                f"--model {folder}: config.json is not valid JSON; save the model again"
            ) from None
        if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
            raise UsageError(
                f"--model {folder} holds {', '.join(architectures) or 'an unknown architecture'}, not a "
                "sequence classifier: fine-tune it first (course_utils.models.load_classifier) or pass "
                "a …ForSequenceClassification folder"
            )
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(folder)
        except Exception as exc:
            raise UsageError(
                f"--model {folder}: its tokenizer could not be loaded ({type(exc).__name__}); save the "
                "tokenizer into the same folder (tokenizer.save_pretrained)"
            ) from None
        from transformers.utils import logging as hf_logging

        shown = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar on the command line
        try:
            model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        finally:
            if shown:
                hf_logging.enable_progress_bar()
        description = str(folder.resolve())
    else:
        from .models import load_classifier

        try:
            tokenizer, model = load_classifier(name, progress=False)
        except (ValueError, FileNotFoundError) as exc:
            raise UsageError(f"--model {name}: {str(exc).splitlines()[0]}") from None
        description = f"load_classifier({name!r})" if name else "load_classifier() (the course's classifier)"
    return tokenizer, model.to(device), {"model": description, "device": device}


def parse_options(pairs: list[str]) -> dict:
    """``["n_steps=16", "baseline=mask"]`` → ``{"n_steps": 16, "baseline": "mask"}`` (JSON values, else strings)."""
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"--option {pair!r} must look like NAME=VALUE, e.g. --option n_steps=16")
        name, value = pair.split("=", 1)
        try:
            options[name.strip()] = json.loads(value)
        except ValueError:
            options[name.strip()] = value
    return options


def _target(value: str | None):
    if value is None:
        return None
    return int(value) if value.strip().lstrip("-").isdigit() else value


def versions() -> dict:
    """Python and the versions of the packages the run depends on (None when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _write_parquet(frame, path: Path) -> None:
    replace_file(path, lambda tmp: frame.to_parquet(tmp, index=False))


# ------------------------------------------------------------------------------------------ dry run
def dry_run(model, tokenizer, frame, args, options: dict, n_blank: int = 0) -> dict:
    """Count documents, tokens and windows; time ``--sample`` documents; print and return the estimate."""
    import numpy as np

    from .attribution import explain
    from .attribution._inputs import max_length_of
    from .windows import default_stride, explain_windows, token_counts, window_spans

    texts = frame[args.text_column].tolist()
    counts = token_counts(tokenizer, texts)
    length = max_length_of(model, tokenizer, args.max_length)
    stride = args.stride or default_stride(length)
    long = np.flatnonzero(counts > length)
    windowed = args.long == "window" and len(long) > 0
    if windowed:
        enc = tokenizer([texts[i] for i in long], add_special_tokens=True, truncation=False, verbose=False)
        n_windows = len(texts) - len(long)
        work = int(counts.sum() - counts[long].sum())
        for j in range(len(long)):
            spans = window_spans([int(w) for w in enc.word_ids(j)[1:-1]], length - 2, stride)
            n_windows += len(spans)
            work += sum(stop - start + 2 for start, stop in spans)
    else:
        n_windows, work = len(texts), int(np.minimum(counts, length).sum())
    k = max(1, min(args.sample, len(texts)))
    pick = np.linspace(0, len(texts) - 1, k).round().astype(int)
    sample = [texts[i] for i in np.unique(pick)]
    sample_counts = counts[np.unique(pick)]
    began = time.perf_counter()
    if windowed:
        explain_windows(
            model,
            tokenizer,
            sample,
            args.method,
            _target(args.target),
            stride=stride,
            batch_size=args.batch_size,
            max_length=length,
            progress=False,
            **options,
        )
    else:
        explain(
            model,
            tokenizer,
            sample,
            args.method,
            _target(args.target),
            batch_size=args.batch_size,
            progress=False,
            max_length=length,
            **options,
        )
    seconds = time.perf_counter() - began
    if windowed:  # tokens the sample's windows hold
        enc = tokenizer(sample, add_special_tokens=True, truncation=False, verbose=False)
        sample_work = 0
        for j in range(len(sample)):
            spans = window_spans([int(w) for w in enc.word_ids(j)[1:-1]], length - 2, stride)
            sample_work += sum(stop - start + 2 for start, stop in spans)
    else:
        sample_work = int(np.minimum(sample_counts, length).sum())
    per_token = seconds / max(sample_work, 1)
    estimate = per_token * work
    report = {
        "n_documents": len(texts),
        "n_blank_dropped": n_blank,
        "n_tokens": int(counts.sum()),
        "n_long_documents": int(len(long)),
        "max_length": length,
        "n_windows": int(n_windows),
        "tokens_to_explain": work,
        "sample_documents": len(sample),
        "sample_tokens": sample_work,
        "sample_seconds": round(seconds, 3),
        "seconds_per_token": per_token,
        "estimated_seconds": round(estimate, 1),
    }
    print(
        f"{len(texts)} documents, {int(counts.sum())} tokens; {len(long)} longer than {length} tokens"
        + (f" → {n_windows} windows (stride {stride})" if windowed else "")
        + f"; {work} tokens to explain with {args.method}"
    )
    print(
        f"measured {seconds:.2f} s on {len(sample)} sample documents ({sample_work} tokens): "
        f"estimated {_clock(estimate)} for the whole corpus in one process on {model.device}"
    )
    return report


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d} (h:mm:ss)"


# ------------------------------------------------------------------------------------------ the command
def run(args: argparse.Namespace) -> int:
    """Run the ``explain`` command; returns the exit code (0, 2 for bad input, 130 when interrupted)."""
    try:
        return _run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "interrupted: the finished chunks are kept; run the same command again to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


def _check_args(args) -> None:
    for name in ("chunk_size", "batch_size", "sample"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.stride is not None and args.stride < 1:
        raise UsageError(f"--stride must be at least 1, got {args.stride}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise UsageError(
            "give --scheduler ADDRESS (a running cluster) or --workers N (a local one), not both"
        )


def _client(args):
    if args.scheduler is None and args.workers is None:
        return None, None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--scheduler/--workers need Dask: pip install 'explaining-bert[scale]'") from None
    if args.scheduler:
        try:
            return Client(args.scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"--scheduler {args.scheduler}: cannot connect ({type(exc).__name__}); is the "
                "scheduler running and reachable?"
            ) from None
    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )  # any free port: never clashes with another cluster
    return Client(cluster), cluster


def _run(args) -> int:
    import pandas as pd

    from . import corpus
    from .attribution import method_options

    _check_args(args)
    began = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    options = parse_options(args.option)
    try:
        allowed = method_options(args.method)
    except ImportError as exc:
        raise UsageError(f"--method {args.method}: {exc}") from None
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UsageError(
            f"--option {', '.join(unknown)}: not an option of {args.method}; its options are "
            f"{', '.join(sorted(allowed))}"
        )
    frame, id_column, n_blank = read_corpus(args.corpus, args.text_column, args.id_column)
    metadata = [c.strip() for c in args.metadata.split(",") if c.strip()]
    missing = [c for c in metadata if c not in frame.columns]
    if missing:
        raise UsageError(f"--metadata {', '.join(missing)}: no such column(s) in {args.corpus}")
    if n_blank:
        print(f"skipping {n_blank} row(s) with an empty {args.text_column!r}", file=sys.stderr)
    tokenizer, model, where = load_model(args.model, args.device)
    loaded = time.perf_counter()
    target = _target(args.target)
    if target is not None:
        from .attribution._inputs import check_target

        try:
            check_target(target, model, 1)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--target {args.target}: {exc}") from None
    if args.dry_run:
        try:
            dry_run(model, tokenizer, frame, args, options, n_blank)
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc).splitlines()[0]) from None
        return 0

    out = Path(args.out) if args.out else Path(f"{Path(args.corpus).name.split('.')[0]}-{args.method}")
    out.mkdir(parents=True, exist_ok=True)
    client, cluster = _client(args)
    try:
        result = corpus.explain_corpus(
            model,
            tokenizer,
            frame,
            method=args.method,
            target=target,
            text_column=args.text_column,
            id_column=id_column,
            chunk_size=args.chunk_size,
            batch_size=args.batch_size,
            max_length=args.max_length,
            progress=not args.no_progress,
            long=args.long,
            stride=args.stride,
            folder=out / "chunks",
            client=client,
            autocast=args.autocast,
            **options,
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    explained = time.perf_counter()
    words = corpus.word_table(result, frame, id_column=id_column, metadata=metadata, truth_column=None)
    summary = corpus.document_table(result, frame, id_column=id_column, metadata=metadata, truth_column=None)
    diagnostics = result.documents
    extra = ["doc_id", *[c for c in diagnostics.columns if c not in summary.columns]]
    documents = summary.merge(diagnostics[extra], on="doc_id", how="left", validate="one_to_one")
    tokens = result.to_frame()
    _write_parquet(tokens, out / "tokens.parquet")
    _write_parquet(words, out / "words.parquet")
    _write_parquet(documents, out / "documents.parquet")
    windows = result.windows
    if isinstance(windows, pd.DataFrame):
        _write_parquet(windows, out / "windows.parquet")
    elif (out / "windows.parquet").exists():
        (out / "windows.parquet").unlink()  # from an earlier run with other options
    written = time.perf_counter()
    cache = result.cache
    run_info = {
        "command": ["python", "-m", "course_utils", "explain", *sys.argv[2:]]
        if sys.argv[1:2] == ["explain"]
        else None,
        "corpus": {
            "path": str(Path(args.corpus).resolve()),
            "text_column": args.text_column,
            "id_column": id_column,
            "n_documents": len(frame),
            "n_blank_dropped": n_blank,
            "n_tokens": int(len(tokens)),
        },
        "model": {**where, "fingerprint": corpus.model_fingerprint(model)},
        "method": args.method,
        "target": target,
        "options": {**result.options, "max_length": args.max_length, "long": args.long},
        "chunks": {
            "key": cache["key"],
            "folder": cache["folder"],
            "loaded": cache["loaded"],
            "computed": cache["computed"],
            "recomputed": cache["recomputed"],
            "chunk_size": args.chunk_size,
        },
        "scale": {"scheduler": args.scheduler, "workers": args.workers},
        "versions": versions(),
        "timings": {
            "started": started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_model_seconds": round(loaded - began, 3),
            "explain_seconds": round(explained - loaded, 3),
            "write_seconds": round(written - explained, 3),
            "total_seconds": round(written - began, 3),
        },
        "files": sorted(p.name for p in out.glob("*.parquet")),
    }
    replace_json(out / "run.json", run_info)
    print(
        f"wrote {len(tokens)} tokens, {len(words)} words and {len(documents)} documents into {out}/ "
        f"({cache['loaded']} chunks from the cache, {cache['computed']} computed)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.corpus_cli …`` (the same as ``python -m course_utils explain …``)."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils explain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
