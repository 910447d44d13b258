"""Tests for course_utils.build (`make course`): executed copies, HTML, index, and a failure that names the cell."""

import nbformat
import pytest

from course_utils.build import NotebookFailed, build


def write(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def test_build_writes_executed_notebooks_html_and_index(tmp_path, capsys):
    src = tmp_path / "nbs"
    src.mkdir()
    write(src / "00_a.ipynb", "x = 6 * 7", "print(x)")
    write(src / "01_b.ipynb", "print('second')")
    runs = build(tmp_path / "out", src)
    assert [r.name for r in runs] == ["00_a.ipynb", "01_b.ipynb"]
    executed = nbformat.read(str(tmp_path / "out" / "00_a.ipynb"), as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "42\n"
    index = (tmp_path / "out" / "index.html").read_text()
    assert "00_a.html" in index and "01_b.html" in index
    assert (tmp_path / "out" / "01_b.html").stat().st_size > 1000
    assert "Open" in capsys.readouterr().out


def test_build_stops_at_failing_notebook_naming_cell_and_error(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    write(src / "00_ok.ipynb", "pass")
    write(src / "01_bad.ipynb", "a = 1", "assert a == 2, 'the claim does not hold'")
    write(src / "02_never.ipynb", "pass")
    with pytest.raises(
        NotebookFailed, match=r"01_bad.ipynb: code cell 2 .*AssertionError: the claim does not hold"
    ):
        build(tmp_path / "out", src)
    assert (tmp_path / "out" / "01_bad.ipynb").exists() and not (tmp_path / "out" / "02_never.ipynb").exists()
