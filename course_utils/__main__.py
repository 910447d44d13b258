"""``python -m course_utils <command>``: the course's command line, :func:`course_utils.course.cli.main`.

``python -m course_utils --help`` lists the commands (build, figures, datasheet, student, solutions, paths,
badges, explain, site, explorer, colab-install). ``explain`` and ``explorer`` run the library
(:mod:`course_utils.corpus_cli`, :mod:`course_utils.explorer_app`); the others build the course.
"""

import sys

from .course.cli import colab_install, main, requirements

__all__ = ["colab_install", "main", "requirements"]

if __name__ == "__main__":
    sys.exit(main())
