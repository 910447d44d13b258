"""course_utils — the helper package of the course *Explaining BERT*.

One concept per module; notebooks import what they teach::

    from course_utils import setup                    # the course's setup cell: seeds, device, offline, R
    from course_utils import data, models             # load_sotu(), load_encoder(), load_classifier()

Two layers (issue 16): the reusable library — ``data``, ``models``, ``attribution``, ``evaluation``, ``corpus``,
``viz``, ``r_bridge`` … — and the course's scaffolding in ``course_utils.course`` (``setup()``, notebook tools,
build, instructor commands, lesson figures, the site, the command line). The library never imports the
scaffolding (``tests/test_architecture.py`` walks the imports); :func:`setup` is loaded from it on first use,
so ``import course_utils`` stays light.

Each function says in its docstring which notebook teaches it.
"""

from .environment import cache_dir, get_device

__version__ = "0.1.0"
__all__ = ["setup", "cache_dir", "get_device", "__version__"]


def __getattr__(name: str):
    if name == "setup":  # the course's setup(), from its scaffolding: loaded when a notebook asks for it
        from .course.environment import setup

        globals()["setup"] = setup
        return setup
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
