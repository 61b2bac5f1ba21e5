# netpoll's development tasks. `make` (or `make help`) lists them.
#
# Every task creates (or reuses) a virtualenv, .venv, with netpoll installed
# in it in editable mode, from the interpreter named by PYTHON (default
# python3; netpoll needs 3.10 or later):
#
#   make test PYTHON=python3.12      # a .venv made by another interpreter is rebuilt
#   make clean                       # remove .venv, .venv-3.*, build outputs
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_DOCS := $(VENV)/.installed-docs
# The Python versions `make test-all` runs the suite under (each in .venv-X.Y).
VERSIONS := 3.10 3.11 3.12 3.13

.DEFAULT_GOAL := help
.PHONY: help venv test suite lint docs demo bench test-all clean

help:  ## list the tasks
	@echo "netpoll: make TASK [PYTHON=python3.X] [PYTEST_ARGS='-k name']"
	@echo
	@grep -E '^[a-z][a-z0-9.%-]*:.*## ' $(MAKEFILE_LIST) | \
	    awk -F':.*## ' '{ sub(/%/, "X", $$1); printf "  make %-10s %s\n", $$1, $$2 }'
	@echo
	@echo "PYTHON=...   the interpreter .venv is made from (default python3, >= 3.10);"
	@echo "             a .venv made by another interpreter is rebuilt"

# --- the interpreter guard ------------------------------------------------
# Checked when parsing, for every task that needs the venv: PYTHON must
# exist and be 3.10 or later, and a venv made by another interpreter (or by
# this Makefile before it recorded which) is removed so that it is rebuilt.
NEEDS_VENV := $(filter-out help clean test-3.%,$(or $(MAKECMDGOALS),$(.DEFAULT_GOAL)))
ifneq ($(NEEDS_VENV),)
PYINFO := $(shell $(PYTHON) -c 'import os, sys; print("ok" if sys.version_info >= (3, 10) else "old", "%d.%d" % sys.version_info[:2], os.path.realpath(sys.executable))' 2>/dev/null)
ifeq ($(PYINFO),)
$(error PYTHON=$(PYTHON) does not run; pass an interpreter of Python 3.10 or later, e.g. make $(NEEDS_VENV) PYTHON=python3.11)
endif
ifeq ($(word 1,$(PYINFO)),old)
$(error netpoll needs Python 3.10 or later; PYTHON=$(PYTHON) is $(word 2,$(PYINFO)): pass another, e.g. make $(NEEDS_VENV) PYTHON=python3.11)
endif
MADE_BY := $(shell cat $(VENV)/.made-by 2>/dev/null)
ifneq ($(wildcard $(PY)),)
ifneq ($(MADE_BY),$(PYINFO))
$(info $(VENV) was made by another interpreter ($(or $(MADE_BY),unrecorded)); rebuilding it with $(word 3,$(PYINFO)))
$(shell rm -rf $(VENV))
endif
endif
endif

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	echo '$(PYINFO)' > $(VENV)/.made-by

# The tests run the demo too (it must write a real PNG), so they install its extra.
$(STAMP_TEST): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,demo,lint]'
	touch $@

$(STAMP_DEMO): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(STAMP_DOCS): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $@

venv: $(STAMP_TEST)  ## create .venv with netpoll and the test tools (editable)

# The tests drive real peers (openssl, curl, wrk, redis-server, PostgreSQL,
# network namespaces): scripts/system-deps.sh installs them when root, or
# fails naming what is missing.
test: lint suite  ## lint, then the test suite under every poller (~2 min)

# The I/O tests run twice: with the C accelerator (netpoll/_speedups.c,
# built in place if the editable install did not) and pure Python
# (NETPOLL_PURE=1); exit status 5 is "PYTEST_ARGS selected none of them".
suite: $(STAMP_TEST)  ## the test suite only (PYTEST_ARGS='-k name -x' to narrow it)
	bash scripts/system-deps.sh
	$(PY) scripts/build_speedups.py
	$(PY) -m pytest -q $(PYTEST_ARGS)
	NETPOLL_PURE=1 $(PY) -m pytest -q tests/internal tests/net tests/poller tests/runtime \
	    $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: $(STAMP_TEST)  ## ruff, and mypy --strict on the typed modules (pyproject.toml)
	$(PY) -m ruff check .
	$(PY) -m mypy

docs: $(STAMP_DOCS)  ## build the documentation site into site/ (warnings are errors)
	$(PY) -m mkdocs build --strict --site-dir site

demo: $(STAMP_DEMO)  ## select vs poll vs epoll as idle connections grow (~1 min)
	$(PY) -m netpoll demo

bench: $(STAMP_TEST)  ## netpoll against its peers (bench/README.md; BENCH_ARGS='--quick')
	sh bench/run.sh $(BENCH_ARGS)

# One venv per version (.venv-3.10, ...): each is made by that interpreter,
# found on PATH as python3.X or in pyenv (scripts/find-python.sh).
test-all: lint $(addprefix test-,$(VERSIONS))  ## lint, then the suite on Python 3.10, 3.11, 3.12 and 3.13

test-3.%:  ## the suite on one Python version, e.g. make test-3.13
	@py=$$(sh scripts/find-python.sh 3.$*) && \
	    $(MAKE) --no-print-directory suite PYTHON=$$py VENV=.venv-3.$*

clean:  ## remove the venvs, build outputs and caches
	rm -rf $(VENV) .venv-3.* build site *.egg-info .pytest_cache .mypy_cache .ruff_cache \
	    netpoll/_speedups*.so
