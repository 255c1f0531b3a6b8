# The two commands the README starts with: `make up` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv up down test unit live selftest

$(BIN)/labrunner: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/labrunner

# Build and start the testbed cluster, then list the labs against it.
up: venv
	testbed/up | tail -n 1 > .testbed-env
	KUBECONFIG=$$(sed 's/^KUBECONFIG=//' .testbed-env) $(BIN)/labrunner list

down:
	testbed/down

unit: venv
	$(BIN)/pytest -q tests/unit

# Everything CI runs: the testbed comes up, every test runs, the testbed goes down even on failure.
test: venv
	scripts/test-all
