"""Moved to :mod:`course_utils.course.evaluation_figures`
(issue 16: the course's scaffolding lives in ``course_utils/course/``).

This old path is kept for one release: it is the same module object, so ``from course_utils import evaluation_figures``,
``from course_utils.evaluation_figures import …`` and monkeypatching either name all keep working.
"""

import sys

from .course import evaluation_figures as _module

sys.modules[__name__] = _module
