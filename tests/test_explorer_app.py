"""course_utils.explorer_app without a browser: the notebook Voilà runs, its arguments, the template, errors.

The app in a real browser: tests/test_explorer_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import require_site_extra

from course_utils import explorer_app
from course_utils.__main__ import main


def test_app_notebook_uses_the_cached_classifier_by_default():
    nb = explorer_app.app_notebook()
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "models.load_classifier(progress=False)" in code
    assert "widgets.examples_from(test, n=8)" in code
    assert code.strip().endswith("widgets.explorer(model, tokenizer, examples=examples)")
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_app_notebook_loads_a_model_folder(tmp_path):
    code = "\n".join(
        c.source for c in explorer_app.app_notebook(tmp_path, examples=0).cells if c.cell_type == "code"
    )
    assert f"explorer_app.load_model({str(tmp_path.resolve())!r})" in code and "examples = None" in code


@pytest.mark.parametrize(
    "examples,error,match",
    [
        (True, TypeError, "examples must be an int"),
        ("8", TypeError, "examples must be an int"),
        (-1, ValueError, "examples=-1 is too small: use an integer ≥ 0"),
    ],
)
def test_app_notebook_rejects_bad_examples(examples, error, match):
    with pytest.raises(error, match=match):
        explorer_app.app_notebook(examples=examples)


@pytest.mark.parametrize(
    "port,error,match",
    [
        (True, TypeError, "port must be an int"),
        (0, ValueError, r"port=0 must lie in \[1, 65535\]"),
        (70000, ValueError, r"port=70000 must lie in \[1, 65535\]"),
    ],
)
def test_voila_arguments_reject_bad_ports(port, error, match):
    with pytest.raises(error, match=match):
        explorer_app.voila_arguments("explorer.ipynb", port)


def test_voila_arguments_listen_on_localhost_only():
    args = explorer_app.voila_arguments("app.ipynb", 9000)
    assert args[0] == "app.ipynb" and "--port=9000" in args and "--Voila.ip=127.0.0.1" in args
    assert "--no-browser" in args and f"--template={explorer_app.TEMPLATE}" in args


def test_template_removes_the_cdn_links_voila_has(tmp_path):
    require_site_extra("voila")
    from jupyter_core.paths import jupyter_path

    found = [Path(p) / "index.html.j2" for p in jupyter_path("voila", "templates", "lab")]
    source = next(p for p in found if p.exists()).read_text()  # the lab template Voilà will extend
    assert all(link in source for link in explorer_app.CDN_LINKS)  # else the replace would do nothing
    folder = explorer_app.write_template(tmp_path)
    assert (folder / "conf.json").read_text().strip() == '{"base_template": "lab"}'
    template = (folder / "index.html.j2").read_text()
    assert template.startswith("{%- extends 'lab/index.html.j2' -%}")
    assert all(f"replace({link!r}, '')" in template for link in explorer_app.CDN_LINKS)


def test_load_model_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist: pass a folder written by save_pretrained"):
        explorer_app.load_model(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        explorer_app.load_model(tmp_path)
    with pytest.raises(TypeError, match="model must be a folder"):
        explorer_app.load_model(3)


def test_cli_explorer_with_a_missing_model_fails_clearly(tmp_path, capsys):
    assert main(["explorer", "--model", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_site_without_executed_notebooks_says_what_to_run(tmp_path, capsys):
    assert main(["site", "--build", str(tmp_path)]) == 1
    assert "python -m course_utils build" in capsys.readouterr().err


def test_ensure_classifier_trains_only_when_the_cache_is_empty(tmp_path, monkeypatch, capsys):
    from course_utils import models

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    calls = []
    monkeypatch.setattr(models, "load_classifier", lambda **kw: calls.append(kw))  # not 5 minutes of training
    assert explorer_app.ensure_classifier() is True and calls == [{"progress": True}]
    assert "fine-tuning it once now" in capsys.readouterr().out
    folder = models.classifier_dir(models.ClassifierConfig())
    folder.mkdir(parents=True)
    (folder / models.META_FILE).write_text("{}")
    assert explorer_app.ensure_classifier() is False and len(calls) == 1
