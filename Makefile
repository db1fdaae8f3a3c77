# `make test` and `make demo` are the two commands a fresh Debian machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,kubernetes]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src

test: lint
	$(BIN)/pytest -q

demo: $(STAMP)
	@sh examples/demo.sh $(BIN)

bench: $(STAMP)
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/yaml_block.py
	$(BIN)/python bench/limits.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/read_your_writes.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/start_index.py --sizes 10,100,1000
	$(BIN)/python bench/run.py
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/hook.py
	$(BIN)/python bench/gpu_build.py
	$(BIN)/python bench/build.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache
