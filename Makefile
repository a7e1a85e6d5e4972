# The foo.com cluster lab. `make lab-up` and `make test` are all a new user needs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
FOOLAB := $(VENV)/bin/foolab
PYTEST_ARGS ?=
# make load: visitors, run time and DNS cache mode (none, ttl, sticky)
USERS    ?= 30
DURATION ?= 60s
CACHE    ?= none

.PHONY: help lab-up lab-down lab-status test unit scenarios deps engine browser cgroup-vm web lint bench load load-report \
	dashboard class-up class-status class-down class-serve cluster-up cluster-status cluster-down

help:
	@echo "make lab-up      install what is missing, build, start the seven hosts, print status"
	@echo "                 (BALANCER=1: and lb, HAProxy in front of web1-3;"
	@echo "                  MHA=1 or KEEPALIVED=1: automatic failover of db1)"
	@echo "                 (TIMINGS=1: and where the time went, phase by phase)"
	@echo "make deps        only what lab-up installs, side by side (engine, .venv, xterm.js, base image)"
	@echo "make lab-down    remove every container, network and volume of the lab"
	@echo "make lab-status  the status table"
	@echo "make class-up N=8  a lab per student: s01..s08, each with the article's addresses"
	@echo "                 (SUBNET_PER_LAB=1: lab i on 10.1.(100+i).0/24 instead)"
	@echo "make class-status, make class-down   the class as a table; remove every class lab"
	@echo "make class-up ROSTER=students.csv  a lab per student of a roster (name,email)"
	@echo "make class-serve the class in a browser on http://127.0.0.1:8080/ (PORT=8080):"
	@echo "                 each student's secret link (foolab class access), the teacher's grid"
	@echo "make cluster-up NODES=2  a swarm of node containers here (node1 manages);"
	@echo "                 then make class-up N=8 SWARM=1 places each lab whole on a node"
	@echo "make cluster-status, make cluster-down   the nodes and their labs; remove them"
	@echo "make test        unit tests, then the scenarios against the lab (brought up if needed)"
	@echo "make unit        unit tests only (no Docker)"
	@echo "make scenarios   scenarios only, against the running lab"
	@echo "make load        load study with Locust (USERS=30 DURATION=60s CACHE=none|ttl|sticky)"
	@echo "make load-report the load study's modes (a few minutes): docs/load-study.md, its"
	@echo "                 plots, the README's load figures, bench/results.json (part load)"
	@echo "make bench       measure the lab's figures (QUICK=1: a reduced set, < 5 min;"
	@echo "                 ONLY=writes: one part again, merged into bench/results.json)"
	@echo "make dashboard   live page on http://127.0.0.1:8080/ (PORT=8080, CONTROL=1: buttons)"

$(VENV)/.installed: pyproject.toml scripts/install-python-env.sh
	scripts/install-python-env.sh $(VENV)
	@touch $@

# What lab-up needs, side by side: Debian packages in one transaction, then
# the engine, the Python environment, xterm.js and the base image at once.
deps:
	@scripts/install-deps.sh $(VENV)

engine:
	@scripts/install-engine.sh

# Debian's chromium + chromium-driver: the dashboard's browser test drives them.
browser:
	@scripts/install-browser.sh

# The small VM scenarios/test_cgroup_drivers.py boots (cgroup v2, systemd):
# built once, about 2 min, before the scenarios rather than among them.
cgroup-vm:
	@scripts/cgroup-vm.sh build .lab/vm

# xterm.js and asciinema-player from the npm registry (web/package-lock.json,
# scripts/fetch-web.py): the class's pages serve them.
web:
	@scripts/install-web.sh

# BALANCER=1: also lb, HAProxy in front of web1-3 (compose/balancer.yml).
# chromium is for the browser tests alone: `make test` installs it, the lab
# does not wait for it.
lab-up: deps
	$(FOOLAB) up $(if $(filter-out 0,$(BALANCER)),--with balancer) \
	  $(if $(filter-out 0,$(MHA)),--with mha) $(if $(filter-out 0,$(KEEPALIVED)),--with keepalived) \
	  $(if $(filter-out 0,$(TIMINGS)),--timings)

lab-down: $(VENV)/.installed
	$(FOOLAB) down

lab-status: $(VENV)/.installed
	$(FOOLAB) status

# A lab per student (issue 10); one student's lab: foolab --lab s03 COMMAND.
N ?= 8
class-up: deps
	$(FOOLAB) class up $(if $(ROSTER),--roster $(ROSTER),$(N)) \
	  $(if $(filter-out 0,$(SUBNET_PER_LAB)),--subnet-per-lab) $(if $(filter-out 0,$(SWARM)),--swarm)

# The class's web server: each student's page and terminal, the teacher's grid.
class-serve: $(VENV)/.installed web
	$(FOOLAB) class serve --port $(PORT)

class-status: $(VENV)/.installed
	$(FOOLAB) class status

class-down: $(VENV)/.installed
	$(FOOLAB) class down

# A class over several machines (issue 22): nodes as containers on this one.
NODES ?= 2
cluster-up: $(VENV)/.installed engine
	$(FOOLAB) cluster up $(NODES)

cluster-status: $(VENV)/.installed
	$(FOOLAB) cluster status

cluster-down: $(VENV)/.installed
	$(FOOLAB) cluster down

unit: $(VENV)/.installed
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Scenarios must run here, not skip: FOOLAB_REQUIRE_LAB turns "lab not up"
# from a skip into a failure.
scenarios: $(VENV)/.installed
	FOOLAB_REQUIRE_LAB=1 $(PY) -m pytest scenarios $(PYTEST_ARGS)

# Two workers (pytest-xdist): the single lab's scenarios on one, those with
# labs of their own on the other (scenarios/conftest.py); then the one that
# must have the machine to itself (marked alone).
test: lab-up browser cgroup-vm
	FOOLAB_REQUIRE_LAB=1 $(PY) -m pytest tests scenarios -m "not alone" -n 2 --dist loadgroup \
		--junitxml=reports/junit.xml $(PYTEST_ARGS)
	FOOLAB_REQUIRE_LAB=1 $(PY) -m pytest scenarios -m alone --junitxml=reports/junit-alone.xml \
		$(PYTEST_ARGS)

# The full run also times the scenario suite; QUICK=1 reuses the per-scenario
# times of the last `make test` (reports/junit.xml), if there is one.
bench: lab-up
ifneq ($(ONLY),)
	$(FOOLAB) bench --only $(ONLY) $(if $(QUICK),--quick)
else ifeq ($(QUICK),)
	FOOLAB_REQUIRE_LAB=1 $(PY) -m pytest scenarios -q --junitxml=reports/junit-bench.xml
	$(FOOLAB) bench --junit reports/junit-bench.xml
else
	$(FOOLAB) bench --quick --junit reports/junit.xml
endif

# The load study (F20, F21): Locust in a container on the lab network, against
# the running lab; the report goes to reports/load-TIMESTAMP/. More in README.
$(VENV)/.installed-load: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install -q -e '.[load]'
	@touch $@

load: $(VENV)/.installed-load
	$(FOOLAB) load --users $(USERS) --duration $(DURATION) --cache $(CACHE)

# Every mode of the study once (caching resolvers, populations, orders, a
# short TTL), then visitors through web-down, replica-cut and master-killed (and
# master-killed again with keep-alive on, issue 23); written by code into
# docs/load-study.md (+ plots, data), the README's load block and the bench.
load-report: $(VENV)/.installed-load
	$(FOOLAB) load --study --out reports/load-study

# The live dashboard (issue 12): serves on 127.0.0.1 only, until Ctrl-C.
PORT    ?= 8080
CONTROL ?=
$(VENV)/.installed-dashboard: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install -q -e '.[dashboard]'
	@touch $@

dashboard: $(VENV)/.installed-dashboard
	$(FOOLAB) dashboard --port $(PORT) $(if $(filter-out 0,$(CONTROL)),--control)

lint: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[test,dev]'
	$(VENV)/bin/ruff check lab scenarios tests
	$(VENV)/bin/mypy
