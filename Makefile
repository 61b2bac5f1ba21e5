# Quickstart: `make demo` runs the demo, `make test` runs the tests.
# Both create or reuse .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_DEMO := $(VENV)/.installed-demo

.PHONY: test demo venv clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The tests run the demo too (it must write a real PNG), so they install its extra.
$(STAMP_TEST): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,demo]'
	touch $@

$(STAMP_DEMO): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

venv: $(STAMP_TEST)

# The tests drive real peers (openssl, curl, wrk, redis-server, PostgreSQL,
# network namespaces): scripts/system-deps.sh installs them when root, or
# fails naming what is missing.
test: $(STAMP_TEST)
	bash scripts/system-deps.sh
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: $(STAMP_DEMO)
	$(PY) -m netpoll demo

clean:
	rm -rf $(VENV) build *.egg-info
