# The foo.com cluster lab. `make lab-up` and `make test` are all a new user needs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
FOOLAB := $(VENV)/bin/foolab
PYTEST_ARGS ?=

.PHONY: help lab-up lab-down lab-status test unit scenarios engine lint bench

help:
	@echo "make lab-up      install what is missing, build, start the seven hosts, print status"
	@echo "make lab-down    remove every container, network and volume of the lab"
	@echo "make lab-status  the status table"
	@echo "make test        unit tests, then the scenarios against the lab (brought up if needed)"
	@echo "make unit        unit tests only (no Docker)"
	@echo "make scenarios   scenarios only, against the running lab"
	@echo "make bench       measure the lab's figures (QUICK=1: a reduced set, < 5 min)"

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
	FOOLAB_REQUIRE_LAB=1 $(PY) -m pytest tests scenarios --junitxml=reports/junit.xml $(PYTEST_ARGS)

# The full run also times the scenario suite; QUICK=1 reuses the per-scenario
# times of the last `make test` (reports/junit.xml), if there is one.
bench: lab-up
ifeq ($(QUICK),)
	FOOLAB_REQUIRE_LAB=1 $(PY) -m pytest scenarios -q --junitxml=reports/junit-bench.xml
	$(FOOLAB) bench --junit reports/junit-bench.xml
else
	$(FOOLAB) bench --quick --junit reports/junit.xml
endif

lint: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[test,dev]'
	$(VENV)/bin/ruff check lab scenarios tests
	$(VENV)/bin/mypy
