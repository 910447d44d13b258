"""Moved to :mod:`course_utils.course.masking_figures`
(issue 16: the course's scaffolding lives in ``course_utils/course/``).

This old path is kept for one release: it is the same module object, so ``from course_utils import masking_figures``,
``from course_utils.masking_figures import …`` and monkeypatching either name all keep working.
"""

import sys

from .course import masking_figures as _module

sys.modules[__name__] = _module
