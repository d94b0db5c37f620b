# kjob: `make demo` shows a real job end to end; `make test` runs the whole suite.
SHELL := bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench readme completions schemas clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The suite mostly waits on jobs, servers and terminals: two workers halve its time on two cores.
test: install
	$(BIN)/ruff check kjob tests bench
	$(BIN)/python -m pytest -q -n 2

# The demo: an emulator on a free port, a real SQL query (run on the emulator's SQLite
# database) as a job through the kjob command, its result, and the emulator stopped again
# whatever happens (trap). Its jobs go into a record of its own (XDG_STATE_HOME), gone with
# it: the user's `@last` never names a job on a gone emulator.
demo: install
	@set -euo pipefail; \
	work=$$(mktemp -d); \
	$(BIN)/python -m kjob.emulator --port 0 --url-file "$$work/url" >"$$work/emulator.log" 2>&1 & emulator=$$!; \
	trap 'kill $$emulator 2>/dev/null; wait $$emulator 2>/dev/null; rm -rf "$$work"' EXIT; \
	for _ in $$(seq 100); do [ -s "$$work/url" ] && break; sleep 0.1; done; \
	export KJOB_URL=$$(head -n1 "$$work/url") XDG_STATE_HOME="$$work/state"; \
	echo "== emulator listening at $$KJOB_URL"; \
	query='SELECT c.city, COUNT(s.id) AS sales, SUM(s.amount) AS total FROM cities c LEFT JOIN sales s ON s.city_id = c.id GROUP BY c.city ORDER BY total DESC, c.city'; \
	echo "== kjob submit /execute/sql (a 4-second job): $$query"; \
	tag=$$($(BIN)/kjob submit -q /execute/sql --data "{\"statement\": \"$$query\", \"options\": {\"emulator_duration\": \"4\"}}"); \
	echo "   tag: $$tag"; \
	echo "== kjob wait $$tag"; \
	$(BIN)/kjob wait --interval 0.5 "$$tag"; \
	echo "== kjob fetch $$tag --format table"; \
	$(BIN)/kjob fetch "$$tag" --format table; \
	echo "== kjob is installed in $(VENV): run 'source $(VENV)/bin/activate' (or 'pipx install .') to have it on your PATH"

# The README's fault table, from the cases the tests run.
readme: install
	cd tests && ../$(BIN)/python fault_cases.py --write ../README.md

# The endpoint registry (kjob/protocol/endpoints/), from the pinned official client gpudb
# (a test fails when it is stale).
schemas: install
	$(BIN)/python -m kjob.protocol.generate

# Shell completion scripts, from the click command tree (a test fails when they are stale).
completions: install
	for shell in bash zsh fish; do $(BIN)/kjob completion $$shell > completions/kjob.$$shell; done

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
