# The two commands of the README. Both work on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup run test lint

$(BIN)/layerswap: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[tests]"
	touch $(BIN)/layerswap

setup: $(BIN)/layerswap

# Main job on the embedded default: GoogleNet + AlexNet (HaX-CoNN Xavier figures).
run: setup
	$(BIN)/layerswap solve

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q

lint: setup
	$(BIN)/ruff check .
