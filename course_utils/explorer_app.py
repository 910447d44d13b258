"""Notebook 07's interactive explorer as a page of its own, served by Voilà on this machine (for workshops).

    python -m course_utils explorer                      # the cached classifier (load_classifier())
    python -m course_utils explorer --model DIR --port 8866

Voilà runs a small generated notebook (:func:`app_notebook`) in a Jupyter kernel and shows only its
output: the ipywidgets explorer of :func:`course_utils.widgets.explorer`, with the same examples menu, text
box, method buttons and heat map as in notebook 07. Every visitor gets a kernel of their own; the server
listens on 127.0.0.1 only, and Ctrl+C stops it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat

from ._validation import check_scalar

DEFAULT_PORT = 8866  # Voilà's own default
DEFAULT_EXAMPLES = 8
TEMPLATE = "explaining-bert"
#: Voilà's lab template links Font Awesome from a CDN although its own bundle carries the icons: the
#: explorer's template is the lab template without those two links, so the page loads nothing from outside
CDN_LINKS = (
    '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/css/all.min.css"'
    ' type="text/css" />',
    '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/css/v4-shims.min.css"'
    ' type="text/css" />',
)

__all__ = [
    "DEFAULT_PORT",
    "load_model",
    "app_notebook",
    "write_template",
    "ensure_classifier",
    "voila_arguments",
    "serve",
]


def _check_model_dir(folder) -> Path:
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"model must be a folder (str or path), got {type(folder).__name__}")
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        what = "does not exist" if not folder.exists() else "has no config.json"
        raise FileNotFoundError(
            f"--model {folder} {what}: pass a folder written by save_pretrained() (a model and "
            "its tokenizer), or leave --model out to use the course's cached classifier"
        )
    return folder


def load_model(folder: str | os.PathLike):
    """``(tokenizer, model)`` from a folder written by ``save_pretrained`` (a fine-tuned BERT classifier).

    Raises:
        FileNotFoundError: the folder does not exist or has no ``config.json`` (say which, and what to pass).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = _check_model_dir(folder)
    from .models import _quiet_transformers

    _quiet_transformers()  # no "Loading weights" bar on the page
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
    return tokenizer, model


def app_notebook(
    model: str | os.PathLike | None = None, *, examples: int = DEFAULT_EXAMPLES
) -> nbformat.NotebookNode:
    """The notebook Voilà serves: load the classifier, pick example paragraphs, display the explorer.

    Args:
        model: a ``save_pretrained`` folder, or None for the course's cached classifier (``load_classifier()``).
        examples: held-out test paragraphs (15–40 words) offered in the menu; 0 for the text box only.
    """
    examples = check_scalar(
        examples, "examples", int, min_val=0, hint="(paragraphs in the menu; 0 = only the text box)"
    )
    if model is None:
        load = "tokenizer, model = models.load_classifier(progress=False)"
    else:
        load = f"tokenizer, model = explorer_app.load_model({str(Path(model).resolve())!r})"
    if examples:
        pick = (
            "data = models.ClassifierConfig().load_data()\n"
            "test = data[(data['split'] == 'test') & data['n_words'].between(15, 40)]\n"
            f"examples = widgets.examples_from(test, n={examples})"
        )
    else:
        pick = "examples = None"
    cells = [
        nbformat.v4.new_markdown_cell(
            "# Explaining BERT · the explorer\n\nType or pick a paragraph, choose a method and the class to "
            "explain, and press **Explain**: red words support the class, blue words oppose it. The methods "
            "are taught in notebooks 03–05 of the course; this is the explorer of notebook 07."
        ),
        nbformat.v4.new_code_cell(
            f"from course_utils import explorer_app, models, widgets\n{load}\n{pick}\n"
            "from course_utils.attribution import SUPPORTED_METHODS\n"
            "_ = [SUPPORTED_METHODS[m] for m in SUPPORTED_METHODS]  # import shap, lime now, "
            "not on the first click"
        ),
        nbformat.v4.new_code_cell("widgets.explorer(model, tokenizer, examples=examples)"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


def write_template(root: str | os.PathLike) -> Path:
    """Write the explorer's Voilà template under ``root/voila/templates/`` (put ``root`` on ``JUPYTER_PATH``)."""
    folder = Path(root) / "voila" / "templates" / TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conf.json").write_text('{"base_template": "lab"}\n', encoding="utf-8")
    removed = "".join(f" | replace({link!r}, '')" for link in CDN_LINKS)
    (folder / "index.html.j2").write_text(
        "{%- extends 'lab/index.html.j2' -%}\n"
        f"{{%- block notebook_css -%}}{{{{ super(){removed} }}}}{{%- endblock notebook_css -%}}\n",
        encoding="utf-8",
    )
    return folder


def ensure_classifier() -> bool:
    """Fine-tune and cache the course's classifier here, with a progress bar, when the cache has none yet.

    Otherwise the first visitor's page would wait for the fine-tune without a word. Returns True when it
    trained. (Training happens once; ``make course`` or any notebook that loads the classifier also does it.)
    """
    from .models import META_FILE, ClassifierConfig, classifier_dir, load_classifier, resolve_name

    if (classifier_dir(ClassifierConfig(model=resolve_name(None))) / META_FILE).is_file():
        return False
    print(
        "No fine-tuned classifier in the cache yet: fine-tuning it once now (a few minutes on 2 CPU cores) ...",
        flush=True,
    )
    load_classifier(progress=True)
    return True


def voila_arguments(notebook: str | os.PathLike, port: int = DEFAULT_PORT) -> list[str]:
    """Voilà's command-line arguments: this notebook only, on 127.0.0.1:``port``, no browser, no tracebacks."""
    port = check_scalar(port, "port", int, min_val=1, max_val=65535)
    return [
        str(notebook),
        f"--port={port}",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        "--theme=light",
        f"--template={TEMPLATE}",
        "--VoilaConfiguration.show_tracebacks=False",
        "--Voila.log_level=WARN",
    ]


def serve(
    model: str | os.PathLike | None = None, port: int = DEFAULT_PORT, *, examples: int = DEFAULT_EXAMPLES
) -> int:
    """Serve the explorer until Ctrl+C; print the address first. Returns the exit status (0 after Ctrl+C).

    Raises:
        FileNotFoundError: ``model`` is not a ``save_pretrained`` folder (checked before the server starts).
    """
    if model is not None:
        _check_model_dir(model)  # fail here, with the message, rather than inside the page's kernel
    else:
        ensure_classifier()
    voila_arguments("explorer.ipynb", port)  # checks the port before anything starts
    from voila.app import Voila

    with tempfile.TemporaryDirectory(prefix="explaining-bert-explorer-") as tmp:
        path = Path(tmp) / "explorer.ipynb"
        nbformat.write(app_notebook(model, examples=examples), str(path))
        write_template(tmp)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (tmp, os.environ.get("JUPYTER_PATH")) if p)
        print(
            f"The explorer is at http://127.0.0.1:{port}/ — open it in a browser (the first page takes a few "
            "seconds: it loads the classifier). Ctrl+C stops it.",
            flush=True,
        )
        try:
            Voila.launch_instance(argv=voila_arguments(path, port))
        except KeyboardInterrupt:
            pass
        finally:
            Voila.clear_instance()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve())
