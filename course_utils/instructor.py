"""Moved to :mod:`course_utils.course.instructor`
(issue 16: the course's scaffolding lives in ``course_utils/course/``).

This old path is kept for one release: it is the same module object, so ``from course_utils import instructor``,
``from course_utils.instructor import …`` and monkeypatching either name all keep working.
"""

import sys

from .course import instructor as _module

sys.modules[__name__] = _module
