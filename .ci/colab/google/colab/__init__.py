"""A stand-in for Colab's ``google.colab`` package, for CI's simulated Colab runtime (``.ci/colab_runtime.py``).

Colab's kernel imports ``google.colab`` before the first cell runs, so ``"google.colab" in sys.modules`` is true
in a notebook there, while a ``!python …`` subprocess does not import it. The simulated runtime reproduces that
with an IPython kernel configuration (``exec_lines``) and installs this package into the venv, so that
``importlib.util.find_spec("google.colab")`` finds it as it would in Colab. Only what the course calls is here.
"""

from . import output

__all__ = ["output"]
__version__ = "0.0.0+ci-stand-in"
