# Two commands for a newcomer: `make run` (demo store + API on localhost:8000) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   := data/demo
export MPI_DATABASE_URL ?= sqlite:///data/mpi.sqlite3

.PHONY: run test test-fast test-timings lint bench install demo clean

$(BIN)/mpi: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/mpi

demo: install
	@if [ ! -f $(DEMO)/.done ]; then \
	  rm -rf $(DEMO) && mkdir -p $(DEMO) && \
	  $(BIN)/mpi synth --persons 2000 --seed 7 --out $(DEMO) && \
	  $(BIN)/mpi ingest $(DEMO) || true; \
	  facility=$$(ls $(DEMO)/xml | head -1); \
	  { echo "clinician key of facility $$facility:"; $(BIN)/mpi keys create --role clinician --facility $$facility | tail -1; \
	    echo "steward key:"; $(BIN)/mpi keys create --role steward --label demo | tail -1; \
	    echo "admin key:"; $(BIN)/mpi keys create --role admin --label demo | tail -1; } > $(DEMO)/keys.txt; \
	  touch $(DEMO)/.done; \
	fi
	@echo "Demo keys (development store only): $(DEMO)/keys.txt"; cat $(DEMO)/keys.txt

run: demo
	$(BIN)/mpi serve --host 127.0.0.1 --port 8000

# On every core (pytest-xdist), a test file per worker at a time: module and session fixtures are built by
# the worker that needs them. The files that took longest last time go first (tests/plugins/order.py), so
# the workers finish together. PYTEST_WORKERS=0 runs in this process (e.g. to debug).
PYTEST_WORKERS ?= auto
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder)
# Every worker imports every test module: let Python keep the compiled modules (and pytest its rewritten
# test modules) in __pycache__ even where PYTHONDONTWRITEBYTECODE is set, or each run compiles them again.
test test-fast test-timings: export PYTHONDONTWRITEBYTECODE :=

test: install
	$(BIN)/pytest $(XDIST)

# The whole suite, writing each file's seconds into tests/plugins/file_seconds.json: the order of a run
# without a cache of its own (a fresh clone, CI). Commit the table when files were added or got longer.
test-timings: install
	$(BIN)/pytest $(XDIST) --file-seconds-update

# The quick lane while working: everything but the slow, browser and PostgreSQL tests (`make test` runs all).
test-fast: install
	$(BIN)/pytest $(XDIST) -m "not slow and not browser and not postgres"

lint: install
	$(BIN)/ruff check mpi linkage api synth tests bench
	$(BIN)/mypy mpi linkage api synth

bench: install
	$(BIN)/python -m bench.bench_ingest
	$(BIN)/python -m bench.bench_linking --persons 100000 1000000
	$(BIN)/python -m bench.bench_records
	$(BIN)/python -m bench.bench_relink
	$(BIN)/python -m bench.bench_synth

clean:
	rm -rf data/demo data/mpi.sqlite3*
