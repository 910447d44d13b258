"""``google.colab.output``: the part of it the course uses (the custom widget manager switch).

Colab renders ipywidgets (7.x and 8.x) only after ``output.enable_custom_widget_manager()``; the real function
sends a JavaScript snippet to the front end. Here it records the call, so tests can check that the course made it.
"""

_custom_widget_manager_enabled = False


def enable_custom_widget_manager() -> None:
    """Let the front end render third-party ipywidgets (records the call)."""
    global _custom_widget_manager_enabled
    _custom_widget_manager_enabled = True


def disable_custom_widget_manager() -> None:
    """Undo :func:`enable_custom_widget_manager`."""
    global _custom_widget_manager_enabled
    _custom_widget_manager_enabled = False


def custom_widget_manager_enabled() -> bool:
    """Whether :func:`enable_custom_widget_manager` was called (a stand-in helper; Colab has no such function)."""
    return _custom_widget_manager_enabled
