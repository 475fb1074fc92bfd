# The two commands: `make demo` runs the main job on embedded defaults, `make test` runs the
# checks. Each creates .venv and installs everything it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dno-installed
DEMO   := demo_output

.PHONY: demo test lint imports typecheck pytest faults bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU wheel 2.13.0 (any other request pulls a multi-GB CUDA build).
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job on embedded defaults: data, a small Bayesian search with pruning, its summary,
# the best trial's evaluation (validation split) and the study's report.
# Rerunning resumes the study (finished trials are kept).
demo: $(STAMP)
	mkdir -p $(DEMO)
	$(BIN)/dno generate --family mackey --n 96 --seed 0 --out $(DEMO)/mackey.h5 --overwrite -q
	$(BIN)/dno data info $(DEMO)/mackey.h5
	$(BIN)/dno search --model method_of_steps --family mackey --data $(DEMO)/mackey.h5 \
	    --search bayesian --pruner median --n-trials 10 --max-epochs 8 \
	    --results $(DEMO)/hyperparameter_results --confirm-top 2 --confirm-seeds 2
	$(BIN)/dno trials $(DEMO)/hyperparameter_results/method_of_steps-mackey-bayesian
	$(BIN)/dno evaluate $(DEMO)/hyperparameter_results/method_of_steps-mackey-bayesian
	$(BIN)/dno report $(DEMO)/hyperparameter_results/method_of_steps-mackey-bayesian -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

# The layering of ARCHITECTURE.md, as import-linter contracts in pyproject.toml.
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint imports typecheck pytest

# The fault suite (docs/reliability.md) with its slow faults too: a PostgreSQL server restarted
# and stopped under a search, a full tmpfs (as root), SIGKILL and SIGTERM to searches and
# benchmarks. `make test` runs its fast faults only.
faults: $(STAMP)
	DNO_FAULTS=1 $(BIN)/pytest tests/faults

# Benchmarks need the benchmark-only anchors: jitcdde, and neuraloperator's SpectralConv (its
# own dependencies minus the tracking stack it would pull in). `make bench` runs them all.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m pip install --quiet --no-deps neuraloperator
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_generate_large.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_diagnostics.py
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/bench_program.py
	$(BIN)/python benchmarks/bench_workers.py
	$(BIN)/python benchmarks/bench_report.py

clean:
	rm -rf $(DEMO) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
