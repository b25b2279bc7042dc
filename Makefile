# Two commands on a fresh machine: `make reproduce` and `make test`.
# Both create .venv with the pinned versions of constraints.txt when it is missing or out of date.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= results

.PHONY: install reproduce reproduce-quick test lab picker bench clean-venv

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

# The exemplar picker as a web page on this machine only (the kernel behind it does the work).
PICKER_PORT ?= 8866
picker: $(STAMP)
	$(VENV)/bin/voila app/exemplar_picker.ipynb --Voila.ip=127.0.0.1 --port=$(PICKER_PORT)

bench: $(STAMP)
	$(PY) benchmarks/bench_color.py
	$(PY) benchmarks/bench_scenes.py
	$(PY) benchmarks/bench_matching.py
	$(PY) benchmarks/bench_colornet.py
	OUT=$(OUT) $(PY) benchmarks/bench_scaling.py

clean-venv:
	rm -rf $(VENV)
