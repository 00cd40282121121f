# Entry points. `make demo` builds everything on generated demo data on the local
# Spark target; `make test` runs the whole test suite. Both set up .venv first.
SHELL := /bin/bash
.DEFAULT_GOAL := demo

VENV := .venv
PY := $(VENV)/bin/python
DBT := $(VENV)/bin/dbt

export DBT_PROFILES_DIR ?= $(CURDIR)/profiles
export REES46_WAREHOUSE_DIR ?= $(CURDIR)/warehouse
export REES46_RAW_DIR ?= $(CURDIR)/data/raw
DEMO_EVENTS ?= 1000000
DEMO_SEED ?= 42
BENCHMARK_EVENTS ?= 67500000

.PHONY: setup browser demo generate build docs docs-serve report test test-fast faults lint benchmark clean \
	server-start server-stop server-status sql cluster-start cluster-stop

$(VENV)/.installed: pyproject.toml adapter/pyproject.toml $(shell find adapter/dbt -type f -name '*.py' -o -name '*.yml' | sort)
	scripts/setup.sh
	touch $@

setup: $(VENV)/.installed

# Chromium for the report's browser test (the tests need it, the demo does not).
browser:
	scripts/setup.sh --browser

# Main job: demo data (unless raw files are already present), dbt build, docs,
# the visual report, then what to do next.
demo: setup generate build docs report
	@echo ""
	@echo "Next:"
	@echo "  open the report:   file://$(REES46_WAREHOUSE_DIR)/report/index.html"
	@echo "  browse lineage:    make docs-serve   (http://127.0.0.1:8080)"
	@echo "  query a mart:      make server-start && make sql ARGS='-e \"select rfm_segment, count(*) from rees46_marts.mart_user_rfm group by 1\"'"

generate: setup
	$(PY) -m datagen --out "$(REES46_RAW_DIR)" --events $(DEMO_EVENTS) --seed $(DEMO_SEED) --if-empty

build: setup
	$(DBT) build

docs: setup
	$(DBT) docs generate

# The visual report (static site under warehouse/report) from the built marts,
# through the active target (DBT_TARGET=thrift to read from the Spark server).
report: setup
	$(PY) -m report

docs-serve: setup
	$(DBT) docs serve --host 127.0.0.1

# A Spark server over the same warehouse (Thrift on 127.0.0.1:10000 for dbt's
# `thrift` target, beeline, PyHive and JDBC; Spark Connect on 127.0.0.1:15002
# for the Python models). Build through it with `$(DBT) build --target thrift`.
server-start: setup
	$(PY) scripts/spark_server.py start

server-stop: setup
	$(PY) scripts/spark_server.py stop

server-status: setup
	$(PY) scripts/spark_server.py status

# A beeline prompt on the running server (`make sql ARGS='-e "show databases"'`).
sql: setup
	$(PY) scripts/spark_server.py sql $(ARGS)

# A standalone cluster on loopback (a master, two one-core workers) with the
# server submitted to it; the `thrift` target builds against it unchanged.
cluster-start: setup
	$(PY) scripts/spark_server.py cluster-start

cluster-stop: setup
	$(PY) scripts/spark_server.py cluster-stop

# Full-scale benchmark (67.5 M events); writes benchmarks/results/.
benchmark: setup
	scripts/benchmark.sh $(BENCHMARK_EVENTS)

# Whole test suite: Python unit tests, dbt builds on generated and real data
# (driven from pytest), and SQL lint.
test: setup browser
	$(PY) -m pytest
	$(VENV)/bin/sqlfluff lint models analyses tests/dbt

# Fast tier, before every commit: the unit tests (no dbt build, no server).
test-fast: setup
	$(PY) -m pytest --fast

# Developers' tool, not part of `make test`: apply each fault under
# tests/faults/ to a scratch copy and report which tier catches it.
faults: setup browser
	$(PY) scripts/check_faults.py

lint: setup
	$(VENV)/bin/sqlfluff lint models analyses tests/dbt

clean:
	rm -rf target logs warehouse
