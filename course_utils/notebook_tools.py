"""Moved to :mod:`course_utils.course.notebook_tools`
(issue 16: the course's scaffolding lives in ``course_utils/course/``).

This old path is kept for one release: it is the same module object, so ``from course_utils import notebook_tools``,
``from course_utils.notebook_tools import …`` and monkeypatching either name all keep working.
"""

import sys

from .course import notebook_tools as _module

sys.modules[__name__] = _module
