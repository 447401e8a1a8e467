# The two commands of the README do the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick lint catalogue docs docs-data docs-serve bench bench-optimize bench-threads bench-bootstrap bench-sweep clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,all]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m repalign.demo

# everything: the import contracts, then every test (slow ones included)
test: $(STAMP) lint
	$(PY) -m pytest -q

# the development loop: the tests not marked slow (about two minutes)
test-quick: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# the layers of ARCHITECTURE.md (import-linter contracts in pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/lint-imports

# regenerate docs/catalogue.md from the registry (a test checks that it is up to date)
catalogue: $(STAMP)
	$(VENV)/bin/repalign measures --markdown > docs/catalogue.md

# the documentation site from the versioned results in docs/data (about a minute; build/site)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# re-run the sweeps behind the measure cards (hours on 2 cores; resumable) and the cross-library values
docs-data: $(STAMP)
	$(PY) tools/docsite/data.py --workers 2
	$(PY) tools/docsite/elsewhere.py

# the site on http://127.0.0.1:8000 while editing
docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

bench: $(STAMP)
	$(PY) bench/bench_measures.py

bench-optimize: $(STAMP)
	$(PY) bench/bench_optimize.py

bench-threads: $(STAMP)
	$(PY) bench/bench_threads.py

bench-bootstrap: $(STAMP)
	$(PY) bench/bench_bootstrap.py

# the sweep engine against a plain loop over the same cells (~10 min; bench/results/sweep.{json,md})
bench-sweep: $(STAMP)
	$(PY) bench/bench_sweep.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
