# The two commands of the README: `make demo` and `make test`. Each creates .venv on first use.
# The demo installs the package alone; test (and lint, format, bench) add the `test` extras
# (PyTorch CPU, the notebook tools) to the same .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_TEST := $(VENV)/.installed-test
WORKDIR ?= workdirs/demo

.PHONY: demo test lint format bench clean

$(STAMP_DEMO): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $(STAMP_DEMO)

$(STAMP_TEST): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP_TEST)

demo: $(STAMP_DEMO)
	$(BIN)/python -m jaxgan.experiments.dcgan --config=experiments/dcgan/digits.py --workdir=$(WORKDIR)

test: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 -rs --durations=15 tests

lint: $(STAMP_TEST)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP_TEST)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(STAMP_TEST)
	$(BIN)/python -m jaxgan.bench --model=dcgan --size=64 --channels=3 --batch=64

clean:
	rm -rf $(VENV) workdirs .pytest_cache .ruff_cache
