"""Helpers for tests that start a course command in a subprocess and stop it the way a user would."""

from __future__ import annotations

import signal


def ctrl_c_as_in_a_terminal() -> None:
    """``preexec_fn`` for a child that the test stops with SIGINT (what Ctrl-C sends).

    A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored across ``exec``:
    a ``make test &`` (or ``nohup``) would then start the command deaf to SIGINT, and it would run to the end
    instead of stopping. A terminal's foreground process has the default disposition; restore it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
