# Explaining BERT — the two commands of the README.
#   make course   install (first time only), run every notebook offline, write build/index.html and the site build/site/
#   make test     install (first time only), unit tests + every notebook under nbval
SHELL := /bin/bash
# The newest supported Python found (3.13, 3.12, 3.11), or PYTHON=/path/to/python3.x.
# (pyenv's shims exist for versions that are not active, so each candidate must also run.)
ifeq ($(origin PYTHON),undefined)
PYTHON := $(or $(shell for v in 3.13 3.12 3.11; do p=$$(command -v python$$v) && $$p -c '' 2>/dev/null && { echo $$p; break; }; done),$(shell command -v python3))
endif
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# rpy2 must be built in ABI mode to load Debian's R 4.2; nothing in the course may reach the model hub.
export RPY2_CFFI_MODE ?= ABI
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1
export TOKENIZERS_PARALLELISM ?= false
export MPLBACKEND ?= Agg
# Workers that share 2 cores: keep torch and BLAS from over-subscribing them.
export OMP_NUM_THREADS ?= 2

.PHONY: course test install figures clean help lint

help:
	@echo "make course   run every notebook offline, write build/index.html and the course site build/site/"
	@echo "make test     unit tests and every notebook under nbval"

install: $(STAMP)

$(STAMP): pyproject.toml requirements/lock.txt
	@test -n "$(PYTHON)" || { echo "No Python found: install Python 3.11, 3.12 or 3.13, or set PYTHON=/path/to/python3.x"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else "Python 3.11, 3.12 or 3.13 is required (found " + sys.version.split()[0] + " at $(PYTHON)); set PYTHON=/path/to/python3.x")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the course into $(VENV) with $$($(PY) --version) (first time: a few minutes) ..."
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements/lock.txt -e ".[dev,r,site]"
	$(PY) -m pip check
	@touch $(STAMP)

course: $(STAMP)
	$(PY) -m course_utils build --out build
	$(PY) -m course_utils student --out build/student
	$(PY) -m course_utils solutions --out build/solutions
	$(PY) -m course_utils paths --out build/paths
	$(PY) -m course_utils site --build build

test: lint
test: $(STAMP)
	$(PY) -m pytest tests --nbval-lax --nbval-current-env notebooks

# Issue 16: format and lint (settings in pyproject.toml [tool.ruff]); `ruff format .` fixes the formatting.
lint: $(STAMP)
	$(VENV)/bin/ruff format --check --quiet
	$(VENV)/bin/ruff check --quiet

figures: $(STAMP)
	$(PY) -m course_utils figures

# Issue 17: the reading-path copies, and every essentials copy executed under nbval (CI sets COURSE_REQUIRE_R=1).
.PHONY: test-paths
test: test-paths
test-paths: $(STAMP)
	$(PY) -m course_utils paths --out build/paths
	$(PY) -m pytest --nbval-lax --nbval-current-env build/paths/essentials

clean:
	rm -rf build
