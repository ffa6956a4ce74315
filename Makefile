# coinnovation-sim — two commands on a fresh machine:
#   make demo   create .venv, install, compare the shipped scenarios (baseline, status quo, each
#               mechanism alone, all together) over replications and print the summary
#   make test   create .venv, install with dev extras, lint and run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

DEMO_SCENARIOS := baseline status-quo-2020 coordination enclaves vouchers-local vouchers-portable \
                  tech-market all-mechanisms

demo: install
	COLUMNS=$${COLUMNS:-130} $(BIN)/coinnovation-sim compare $(DEMO_SCENARIOS) \
	    --replications 6 --steps 60 --out runs/demo --force

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .

docs: install
	$(BIN)/python docs/gen_parameters.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis

bench: install
	$(BIN)/python benchmarks/run.py
