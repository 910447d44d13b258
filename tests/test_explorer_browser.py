"""The explorer app in a real browser: ``python -m course_utils explorer --model DIR`` started as a user would.

The model is a seeded random 2-layer BERT with the packaged tokenizer, saved to a temporary folder (the
explorer's behaviour, not the classifier's quality, is under test; the cached classifier is not guaranteed to
exist when this runs). The test types a paragraph whose words are each one WordPiece, runs every method of
the explorer, and checks that a heat map with one coloured span per word appears; then that an empty text
box gives the explorer's message and no traceback. A screenshot goes to ``build/screenshots/explorer.png``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser_support import chromium, require_browser
from process_support import ctrl_c_as_in_a_terminal

from course_utils import widgets

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
WORDS = "the people of this nation want jobs and peace".split()  # one WordPiece each (checked below)
START_SECONDS = 240  # the server and the page's kernel on 2 busy cores; a bound on waiting, not a target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, packaged_tokenizer):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    assert packaged_tokenizer.tokenize(" ".join(WORDS)) == WORDS
    torch.manual_seed(0)
    labels = ("Democratic", "Republican")
    config = BertConfig(
        vocab_size=len(packaged_tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
        id2label=dict(enumerate(labels)),
        label2id={lab: i for i, lab in enumerate(labels)},
        initializer_range=0.2,
    )
    folder = tmp_path_factory.mktemp("explorer-model")
    BertForSequenceClassification(config).save_pretrained(folder)
    packaged_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def app(model_dir, tmp_path_factory):
    """The running app: its address. Started with the command line, stopped with Ctrl+C (SIGINT)."""
    require_browser()
    port = _free_port()
    log = tmp_path_factory.mktemp("explorer-log") / "explorer.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "course_utils",
                "explorer",
                "--model",
                str(model_dir),
                "--port",
                str(port),
                "--examples",
                "0",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=ctrl_c_as_in_a_terminal,
        )
    address = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_SECONDS
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the explorer exited with {proc.returncode}:\n{log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(
                f"the explorer did not listen on {address} within {START_SECONDS} s:\n{log.read_text()}"
            )
        assert f"The explorer is at {address}" in log.read_text()  # the address, told to the user
        yield address
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl+C does: the server shuts its kernels down
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this test started (server and kernels)
            proc.wait()


@pytest.fixture(scope="module")
def ui(app):
    with chromium() as b:
        b.page.goto(app, timeout=START_SECONDS * 1000)
        b.page.wait_for_selector(
            "textarea", timeout=START_SECONDS * 1000
        )  # the kernel ran the app's notebook
        yield b


def _explain(page, method_label: str | None = None):
    """Click the method (if given) and Explain; wait until the new result has replaced the old one."""
    before = page.query_selector(".explaining-bert-explorer, .explaining-bert-error")
    if method_label is not None:
        page.locator("button.widget-toggle-button", has_text=method_label).click()
    page.locator("button.widget-button", has_text="Explain").click()
    if before is not None:
        before.wait_for_element_state("hidden", timeout=120_000)  # detached when the output is replaced
    return page.wait_for_selector(".explaining-bert-explorer, .explaining-bert-error", timeout=120_000)


@pytest.mark.parametrize("label,name", list(widgets.METHODS.items()))
def test_explorer_shows_a_heat_map_for_every_method(ui, label, name):
    b = ui
    b.page.fill("textarea", " ".join(WORDS))
    result = _explain(b.page, label)
    assert "explaining-bert-explorer" in result.get_attribute("class")
    header = result.inner_text()
    assert f"method {name}" in header and "Could not explain" not in header
    spans = result.eval_on_selector_all(
        ".explaining-bert-heatmap span[title]",
        "els => els.map(e => [e.textContent, getComputedStyle(e).backgroundColor])",
    )
    words = [(text, colour) for text, colour in spans if text not in ("[CLS]", "[SEP]")]
    assert [text for text, _ in words] == WORDS  # one span per word, in order
    assert all(colour != "rgba(0, 0, 0, 0)" for _, colour in words)  # each coloured by its score
    assert len({colour for _, colour in words}) > 1
    assert b.console_errors == [] and b.external == []


def test_explorer_empty_text_gives_the_message_not_a_traceback(ui):
    b = ui
    b.page.fill("textarea", "   ")
    result = _explain(b.page)
    text = result.inner_text()
    assert "explaining-bert-error" in result.get_attribute("class")
    assert "the text is empty" in text and "Traceback" not in b.page.inner_text("body")


def test_explorer_screenshot(ui):
    b = ui
    b.page.fill("textarea", " ".join(WORDS))
    _explain(b.page, "Integrated gradients (IG)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOTS / "explorer.png"
    b.page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10_000
    assert b.console_errors == [] and b.external == []
