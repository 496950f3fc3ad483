# The two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE := phaseout.settings

.PHONY: demo test test-clock lint types migrations-check pytest pytest-sqlite pytest-postgres bench bench-quick load install clean messages mutation audit-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The embedded demo runs with DEBUG on (the settings' default is production's: off).
demo types migrations-check messages: export DEBUG ?= true
demo: $(STAMP)
	$(BIN)/phaseout migrate --noinput
	$(BIN)/phaseout demo
	$(BIN)/phaseout hj212 feed --hours 60
	$(BIN)/phaseout sweep
	@echo "Serving at http://127.0.0.1:8000 (Ctrl-C stops it)"
	$(BIN)/phaseout serve 127.0.0.1:8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check phaseout tests benchmarks tools

types: $(STAMP)
	$(BIN)/mypy phaseout

migrations-check: $(STAMP)
	$(BIN)/phaseout makemigrations --check --dry-run

# The suite runs on the embedded SQLite and on the PostgreSQL server.
pytest-sqlite: $(STAMP)
	$(BIN)/pytest -n 2 -q

pytest-postgres: $(STAMP)
	DATABASE_URL=$${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/phaseout} $(BIN)/pytest -n 2 -q

test: lint types migrations-check pytest-sqlite pytest-postgres

# No test reads the real clock: the suite passes on any day. `make test-clock` runs the SQLite leg with
# the clock moved by libfaketime (`apt-get install faketime`) to CLOCK, in UTC (Jiangmen is UTC+8),
# default the 2028 leap day late in the evening, i.e. 1 March in Jiangmen; e.g. `make test-clock
# CLOCK='2029-12-31 16:00:00'` (New Year's midnight in Jiangmen). Chromium and the Celery worker run under
# the moved clock too; the Redis server keeps the real one. The monotonic clock is moved as well: a
# thread's wait with a timeout is then measured against the real clock and does not time out, so what the
# suite runs has none (the register import's reader). Not part of `make test`: a second SQLite leg.
CLOCK ?= 2028-02-29 23:30:00
test-clock: $(STAMP)
	TZ=UTC faketime '$(CLOCK)' $(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The page walk (benchmarks/bench_pages.py) on a tenth of the 1 M-scale data set, in a database of its
# own (seeded once by COPY; BENCH_FRESH=1 seeds anew): a few minutes, for a developer's machine.
bench-quick: $(STAMP)
	SECURE_COOKIES=false BENCH_SCALE=0.1 $(BIN)/python benchmarks/bench_pages.py

# The load test (issue 18): locust against the production topology started on loopback (tools/topology.py:
# primary and streaming replica, two gunicorn app servers behind the proxy, Celery worker and beat on
# Redis DB 14), as root (the PostgreSQL clusters run as the postgres user). Defaults: 200 people, 10
# minutes; shorter with e.g. `make load LOAD_USERS=50 LOAD_MINUTES=2`. Ports: TOPOLOGY_PORT_BASE (8140..8142)
# and TOPOLOGY_PG_PORT_BASE (55440, 55441).
LOAD_USERS ?= 200
LOAD_MINUTES ?= 10
load: $(STAMP)
	LOAD_USERS=$(LOAD_USERS) LOAD_MINUTES=$(LOAD_MINUTES) $(BIN)/python benchmarks/bench_load.py

# Mutation testing with mutmut ([tool.mutmut] in pyproject.toml): phaseout/rules/ and the case actions and
# sweep. MUTATE narrows it to files or folders, e.g. `make mutation MUTATE=phaseout/rules/case_flow.py`
# (the whole suite still runs once first, to learn which tests reach which function). Each run starts
# afresh; RESUME=1 keeps mutants/ and goes on where an interrupted run stopped. The last line printed
# is the share of mutants killed. Time on this 2-core machine: about 5 minutes before the first mutant
# (copying, mutating, the suite once under mutmut); 523 mutants of case_flow, exit_plans, deadlines,
# prices and sweep took 14 minutes; all 3,849 are estimated at about 3 hours (batch, engine, rulebook and
# the case actions reach 100-160 tests a function), hence MUTATE.
MUTATE ?=
MUTANT_GLOBS := $(foreach path,$(MUTATE),'$(subst /,.,$(patsubst %.py,%,$(patsubst %/,%,$(path)))).*')
mutation: $(STAMP)
	$(if $(RESUME),,rm -rf mutants)
	PHASEOUT_VAR_DIR=$(CURDIR)/mutants/var $(BIN)/mutmut run --max-children 2 $(MUTANT_GLOBS)
	$(BIN)/mutmut results --all true | $(BIN)/python tools/mutation_score.py $(MUTATE)

# Known vulnerabilities in the pinned dependencies (等保 L3-CES1-21): pip-audit against PyPI's advisory
# data. Needs a route to it (or PIP_AUDIT_INDEX_URL / a mirror); not part of `make test`, which runs offline.
audit-deps: $(STAMP)
	$(BIN)/pip-audit --progress-spinner off --skip-editable -l

messages: $(STAMP)
	cd phaseout && ../$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete && ../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) var mutants
