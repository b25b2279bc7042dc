# Two commands on a fresh machine: `make reproduce` and `make test`.
# Both create .venv with the pinned versions of constraints.txt when it is missing or out of date.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= results

.PHONY: install reproduce reproduce-quick test lab picker bench docs clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --constraint constraints.txt --editable '.[test]'
	touch $(STAMP)

reproduce: $(STAMP)
	$(PY) -m reprolib reproduce --out $(OUT)

reproduce-quick: $(STAMP)
	$(PY) -m reprolib reproduce --quick --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

# Colour your own photos in the browser, on this machine only (the kernel behind the page does the work);
# app/voila.json: loopback only, and uploads up to 128 MB per message on the page's websocket.
PICKER_PORT ?= 8866
picker: $(STAMP)
	$(VENV)/bin/voila app/exemplar_picker.ipynb --Voila.config_file_paths=app --Voila.ip=127.0.0.1 --port=$(PICKER_PORT)

# docs/results.json, docs/results.md and the README's headline and findings blocks from a run's results.json (make reproduce, and
# make bench for the scaling rows, first)
docs: $(STAMP)
	$(PY) -m reprolib.results_tables $(OUT)/results.json

bench: $(STAMP)
	$(PY) benchmarks/bench_color.py
	$(PY) benchmarks/bench_scenes.py
	$(PY) benchmarks/bench_matching.py
	$(PY) benchmarks/bench_colornet.py
	$(PY) benchmarks/bench_colorize.py
	OUT=$(OUT) $(PY) benchmarks/bench_scaling.py

clean-venv:
	rm -rf $(VENV)
