# The two commands the README starts with: `make up` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv up down test unit live selftest kind-test

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

# The learner's path on a real kind cluster (testbed/kind/test): Docker in namespaces of its own, an
# offline node image, `labrunner up`, `doctor`, `dev check` and `down`; nothing left behind.
# Only while the testbed is down. LABS=netpol checks one lab instead of all.
kind-test: venv
	testbed/kind/test $(LABS)
