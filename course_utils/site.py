"""Moved to :mod:`course_utils.course.site` (issue 16: the course's scaffolding lives in ``course_utils/course/``).

This old path is kept for one release: it is the same module object, so ``from course_utils import site``,
``from course_utils.site import …`` and monkeypatching either name all keep working.
"""

import sys

from .course import site as _module

sys.modules[__name__] = _module
