"""The course's scaffolding: what turns the library into *Explaining BERT*, the course.

Nothing in the reusable library (``course_utils.data``, ``models``, ``attribution``, ``evaluation``, ``corpus``,
``viz``, ``r_bridge`` …) imports from here; these modules import the library.

- ``environment``  — :func:`setup`, the first call of every notebook, and the report it prints
- ``notebook_tools`` — the notebooks' conventions: badges, setup cell, tier tags, reading paths and times
- ``build``        — ``make course``: execute every notebook offline into build/ (HTML + index.html)
- ``instructor``   — student/solution copies, per-path copies and their dependency analysis, Colab badges
- ``site``         — the course website (Sphinx + MyST-NB) from the executed notebooks
- ``figures``      — the lesson illustrations of notebooks 01–03 and the registry of every committed figure
- ``masking_figures``, ``evaluation_figures`` — the lesson figures of notebooks 04 and 05
- ``datasheet``    — the count tables of ``data/DATASHEET.md``
- ``cli``          — ``python -m course_utils <command>``

The old paths (``course_utils.figures``, ``course_utils.notebook_tools`` …) are aliases of these modules,
kept for one release.
"""

from .environment import EnvironmentReport, setup

__all__ = ["EnvironmentReport", "setup"]
