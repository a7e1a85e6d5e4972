# The foo.com cluster lab. `make lab-up` and `make test` are all a new user needs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
FOOLAB := $(VENV)/bin/foolab
PYTEST_ARGS ?=

.PHONY: help lab-up lab-down lab-status test unit scenarios engine lint

help:
	@echo "make lab-up      install what is missing, build, start the seven hosts, print status"
	@echo "make lab-down    remove every container, network and volume of the lab"
	@echo "make lab-status  the status table"
	@echo "make test        unit tests, then the scenarios against the lab (brought up if needed)"
	@echo "make unit        unit tests only (no Docker)"
	@echo "make scenarios   scenarios only, against the running lab"

$(VENV)/.installed: pyproject.toml scripts/install-python-env.sh
	scripts/install-python-env.sh $(VENV)
	@touch $@

engine:
	@scripts/install-engine.sh

lab-up: $(VENV)/.installed engine
	$(FOOLAB) up

lab-down: $(VENV)/.installed
	$(FOOLAB) down

lab-status: $(VENV)/.installed
	$(FOOLAB) status

unit: $(VENV)/.installed
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Scenarios must run here, not skip: FOOLAB_REQUIRE_LAB turns "lab not up"
# from a skip into a failure.
scenarios: $(VENV)/.installed
	FOOLAB_REQUIRE_LAB=1 $(PY) -m pytest scenarios $(PYTEST_ARGS)

test: lab-up
	FOOLAB_REQUIRE_LAB=1 $(PY) -m pytest tests scenarios $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[test,dev]'
	$(VENV)/bin/ruff check lab scenarios tests
	$(VENV)/bin/mypy
