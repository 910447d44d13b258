"""Tests for the command line (`python -m course_utils …`) and the course map of notebook 00."""

import subprocess
import sys

from course_utils.__main__ import main, requirements
from course_utils.notebook_tools import TIERS, notebooks, reading_map


def test_colab_install_asks_for_ranges_that_keep_colabs_own_packages():
    reqs = {r.split(">")[0].split("=")[0].split("<")[0].strip(): r for r in requirements()}
    for name in ("torch", "numpy", "pandas", "ipywidgets", "transformers"):
        assert "==" not in reqs[name], f"{reqs[name]} would replace Colab's own {name}"
    assert not any("extra ==" in r for r in reqs.values())  # no test or R extras in Colab


def test_datasheet_command_prints_count_tables(capsys):
    assert main(["datasheet"]) == 0
    out = capsys.readouterr().out
    assert "| split | Democratic | Republican |" in out and "| test |" in out


def test_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "course_utils", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("build", "figures", "datasheet", "colab-install"):
        assert command in out


def test_reading_map_lists_sections_of_every_notebook_with_one_tier():
    course_map = reading_map()
    assert set(course_map["notebook"]) == {p.stem for p in notebooks()}
    assert set(course_map["tier"]) <= set(TIERS)
    assert not course_map["section"].str.contains("🟢|🔵|🟣").any()
