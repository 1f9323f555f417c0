# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export QT_QPA_PLATFORM ?= offscreen
export MPLBACKEND ?= Agg

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tepl demo --out runs --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -n auto  # one worker per core (pytest-xdist)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/bench_compile.py
	$(BIN)/python bench/bench_fit.py
	$(BIN)/python bench/bench_raster.py
	$(BIN)/python bench/twin_figures.py
	$(BIN)/python bench/bench_tcspc.py
	$(BIN)/python bench/bench_flim_fit.py
	$(BIN)/python bench/fault_matrix.py
	$(BIN)/python bench/fuzz.py
	$(BIN)/python bench/bench_gui.py
	$(BIN)/python bench/bench_remote.py
	$(BIN)/python bench/bench_plot_memory.py
	$(BIN)/python bench/bench_analyze.py

clean:
	rm -rf runs build *.egg-info .pytest_cache
