"""How long does the explorer app take to answer a click? (issue 20: "within a few seconds on 2 cores")

Starts ``python -m course_utils explorer`` (the course's cached classifier unless ``--model DIR``), opens it
in headless Chromium (Debian's ``chromium``, driven by Playwright), types a held-out test paragraph, and for
each method clicks Explain and waits for the heat map. Prints seconds per click (best of ``--repeat``) and
the ratio to the target (default 5 s), plus how long the page took to appear (kernel start + model load).

    python benchmarks/explorer_click.py                  # the cached classifier (trains it once if missing)
    python benchmarks/explorer_click.py --repeat 3 --target 5

Exit status 1 when a method's best click exceeds the target. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=None, help="a save_pretrained folder (default: the cached classifier)"
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--target", type=float, default=5.0, help="seconds per click (default 5)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from course_utils import widgets
    from course_utils.models import ClassifierConfig

    test = ClassifierConfig().load_data().query("split == 'test'")
    text = test[test["n_words"].between(30, 40)]["text"].iloc[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "course_utils", "explorer", "--port", str(port), "--examples", "0"]
    if args.model:
        cmd += ["--model", args.model]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    worst = 0.0
    try:
        start = time.perf_counter()
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    print("the explorer exited", file=sys.stderr)
                    return 2
                time.sleep(0.5)
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/", timeout=600_000)
            page.wait_for_selector("textarea", timeout=600_000)
            print(f"page ready after {time.perf_counter() - start:.1f} s (server start, kernel, classifier)")
            page.fill("textarea", text)
            print(f"paragraph: {len(text.split())} words; target {args.target:.1f} s per click")
            for label, name in widgets.METHODS.items():
                page.locator("button.widget-toggle-button", has_text=label).click()
                times = []
                for _ in range(args.repeat):
                    old = page.query_selector(".explaining-bert-explorer")
                    t = time.perf_counter()
                    page.locator("button.widget-button", has_text="Explain").click()
                    if old is not None:
                        old.wait_for_element_state("hidden", timeout=600_000)
                    page.wait_for_selector(
                        f".explaining-bert-explorer:has-text('method {name}')", timeout=600_000
                    )
                    times.append(time.perf_counter() - t)
                best = min(times)
                worst = max(worst, best)
                print(
                    f"{name:<6} {best:6.2f} s per click (best of {args.repeat})"
                    f"   ratio to target {best / args.target:.2f}"
                )
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return 1 if worst > args.target else 0


if __name__ == "__main__":
    sys.exit(main())
