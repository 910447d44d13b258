"""Building the course: execute every notebook in order, write executed copies and HTML pages, an index.

Called by ``make course`` (``python -m course_utils build``).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .notebook_tools import NOTEBOOK_DIR, notebooks


@dataclass
class NotebookRun:
    """One executed notebook: its name, seconds, and the error (None when it ran to the end)."""

    name: str
    seconds: float
    error: str | None = None


class NotebookFailed(RuntimeError):
    """A notebook raised: the message names the notebook, the cell number and the error."""


def _failing_cell(nb: nbformat.NotebookNode) -> tuple[int, str]:
    """Index (counting code cells from 1) and first source line of the cell that holds an error output."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for i, c in enumerate(code_cells, start=1):
        for out in c.get("outputs", []):
            if out.get("output_type") == "error":
                return i, (c.source.splitlines() or [""])[0]
    return 0, ""


def execute_notebook(
    path: Path, out_dir: Path, *, timeout: int = 1800, kernel_name: str = "python3"
) -> NotebookRun:
    """Execute ``path`` with its folder as working directory; write ``out_dir/<name>.ipynb`` and ``.html``.

    Raises:
        NotebookFailed: naming the notebook, the code cell (1-based) and the error; the partly executed
        notebook is still written so the traceback can be read in it.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )  # no kernel start-up chatter in the log
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        index, first_line = _failing_cell(nb)
        ename = getattr(exc, "ename", type(exc).__name__)
        evalue = getattr(exc, "evalue", str(exc)).strip().splitlines()
        error = (
            f"{path.name}: code cell {index} ({first_line!r}) raised {ename}: {evalue[-1] if evalue else ''}"
        )
    seconds = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out_dir / path.name))
    body, _ = HTMLExporter().from_notebook_node(nb)
    (out_dir / path.with_suffix(".html").name).write_text(body, encoding="utf-8")
    if error:
        raise NotebookFailed(error)
    return NotebookRun(path.name, seconds)


def write_index(runs: list[NotebookRun], out_dir: Path) -> Path:
    """``out_dir/index.html``: one link per notebook (HTML page and executed notebook) with its run time."""
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(Path(r.name).with_suffix('.html').name)}'>{html.escape(r.name)}</a></td>"
        f"<td><a href='{html.escape(r.name)}'>.ipynb</a></td><td style='text-align:right'>{r.seconds:.0f} s</td></tr>"
        for r in runs
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Explaining BERT — executed course</title>"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto}td{padding:.3em 1em}</style></head><body>"
        "<h1>Explaining BERT — executed course</h1>"
        f"<p>Built {time.strftime('%Y-%m-%d %H:%M')}; total {sum(r.seconds for r in runs):.0f} s.</p>"
        "<p>The course as a website (search, reading paths, Colab buttons): "
        "<a href='site/index.html'>site/index.html</a>"
        " (the last step of <code>make course</code>).</p>"
        f"<table><tr><th>notebook</th><th>executed</th><th>run time</th></tr>{rows}</table></body></html>"
    )
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def build(
    out_dir: str | Path = "build", folder: str | Path = NOTEBOOK_DIR, *, timeout: int = 1800
) -> list[NotebookRun]:
    """Execute every notebook in reading order; print one line per notebook; stop at the first failure."""
    out_dir = Path(out_dir).resolve()
    runs: list[NotebookRun] = []
    paths = notebooks(folder)
    if not paths:
        raise FileNotFoundError(f"no notebooks (NN_name.ipynb) in {folder}")
    for path in paths:
        print(f"{path.name:<42} ...", end="", flush=True)
        try:
            run = execute_notebook(path, out_dir, timeout=timeout)
        except NotebookFailed:
            print(" FAILED")
            raise
        print(f"\r{path.name:<42} {run.seconds:7.1f} s", flush=True)
        runs.append(run)
        write_index(runs, out_dir)
    index = write_index(runs, out_dir)
    print(f"All {len(runs)} notebooks ran in {sum(r.seconds for r in runs):.0f} s. Open {index}")
    return runs
