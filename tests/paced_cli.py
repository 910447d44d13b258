"""``python tests/paced_cli.py <course command> ...``: the course's command line, with a pause of
``COURSE_TEST_CHUNK_PAUSE`` seconds (default 0.25) after every chunk that ``explain`` stores
(:func:`process_support.pace_chunk_writes`).

A test that stops a run with Ctrl-C once some chunks exist must not race the run: with the tiny test model all
40 chunks take well under a second, and a test process descheduled for that long on a busy machine sent its
SIGINT after the run had finished (CI saw exit 0 instead of 130). Paced, the rest of the run lasts longer than
any scheduling delay; the chunks it computes are unchanged.
"""

from __future__ import annotations

import os
import sys

from process_support import pace_chunk_writes

from course_utils.course.cli import main

pace_chunk_writes(float(os.environ.get("COURSE_TEST_CHUNK_PAUSE", "0.25")))

if __name__ == "__main__":
    sys.exit(main())
