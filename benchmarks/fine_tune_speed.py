"""How long does the default fine-tune take here, and is it worth it? (issue 3: under 5 minutes on 2 cores)

Fine-tunes the default classifier FROM SCRATCH (``models.train_classifier(ClassifierConfig())``, no cache:
the cached model is neither read nor written), then prints the time, examples per second, validation and
test accuracy, test macro-F1, the ratio to the 5-minute target, and the TF-IDF + logistic regression
baseline measured in the same run on the same splits.

    make install && .venv/bin/python benchmarks/fine_tune_speed.py             # the default configuration
    .venv/bin/python benchmarks/fine_tune_speed.py --hyper '{"epochs": 2}'    # any ClassifierConfig field

Run it on a quiet machine: other processes on the two cores slow it down. Exit status 1 when the fine-tune
exceeds the target (so CI can flag a regression if it wants to).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TARGET_SECONDS = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--hyper", default="{}", help="JSON object of ClassifierConfig overrides, e.g. '{\"epochs\": 2}'"
    )
    parser.add_argument("--target", type=float, default=TARGET_SECONDS, help="target seconds (default 300)")
    args = parser.parse_args(argv)

    import torch

    from course_utils import classification, models
    from course_utils.environment import seed_everything

    hyper = json.loads(args.hyper)
    config = models.ClassifierConfig(**hyper)
    print(f"config   {config}")
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    print(
        f"machine  {platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
        f"device {models.get_device()}{load}"
    )

    df = config.load_data()
    train, val, test = (df[df["split"] == s] for s in ("train", "validation", "test"))

    start = time.perf_counter()
    tokenizer, model, result = models.train_classifier(config, progress=sys.stderr.isatty())
    total = time.perf_counter() - start  # includes loading the pretrained encoder and validation passes

    seed_everything(config.seed)
    pred = classification.predict_frame(model, tokenizer, test, max_length=config.max_length)
    bert = classification.evaluate(pred["label"], pred["pred"])

    start = time.perf_counter()
    baseline = classification.tfidf_baseline(train["text"], train["label"], seed=config.seed)
    base_seconds = time.perf_counter() - start
    base = classification.evaluate(test["label"], baseline.predict(test["text"]))
    base_val = classification.evaluate(val["label"], baseline.predict(val["text"]))

    examples = result.n_train * result.epochs
    print(
        f"fine-tune        {result.seconds:7.1f} s training loop ({total:.1f} s with model loading), "
        f"{result.n_train} paragraphs × {result.epochs} epochs = {examples / result.seconds:.1f} examples/s "
        f"({1000 * result.seconds / examples:.0f} ms per example)"
    )
    print(
        f"ratio            {result.seconds / args.target:.2f} (time / {args.target:.0f} s target) -> "
        f"{'OK' if result.seconds <= args.target else 'OVER TARGET'}"
    )
    print(f"                 {'validation acc':>14} {'test acc':>9} {'test macro-F1':>14}")
    print(
        f"MiniLM           {result.val_accuracy[-1]:14.3f} {bert['accuracy']:9.3f} {bert['macro_f1']:14.3f}"
    )
    print(
        f"TF-IDF + logreg  {base_val['accuracy']:14.3f} {base['accuracy']:9.3f} {base['macro_f1']:14.3f}   "
        f"(fitted in {base_seconds:.1f} s)"
    )
    print(f"majority class   {base_val['majority_accuracy']:14.3f} {base['majority_accuracy']:9.3f}")
    print(
        f"MiniLM - TF-IDF  test macro-F1 {bert['macro_f1'] - base['macro_f1']:+.3f}, "
        f"test accuracy {bert['accuracy'] - base['accuracy']:+.3f}"
    )
    return 0 if result.seconds <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
