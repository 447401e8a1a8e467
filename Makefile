# The two commands of the README do the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-optimize clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,all]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m repalign.demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_measures.py

bench-optimize: $(STAMP)
	$(PY) bench/bench_optimize.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
