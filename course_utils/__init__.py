"""course_utils — the helper package of the course *Explaining BERT*.

One concept per module; notebooks import what they teach::

    from course_utils import setup                    # environment: seeds, device, offline, R
    from course_utils import data, models             # load_sotu(), load_encoder(), load_classifier()

Each function says in its docstring which notebook teaches it.
"""

from .environment import cache_dir, get_device, setup

__version__ = "0.1.0"
__all__ = ["setup", "cache_dir", "get_device", "__version__"]
