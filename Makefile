# Two commands do all the set-up: `make lab` and `make test`. Versions come from constraints.txt.
VENV   ?= .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8888

.PHONY: install lab test course course-small bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	# -c constraints.txt pins every package, torch to its CPU build (no multi-GB CUDA wheels).
	$(PYTHON) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		--ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb

test: install
	$(PYTHON) -m pytest

course: install
	$(PYTHON) -m labkit.course

course-small: install
	$(PYTHON) -m labkit.course --small --out build/course-small

bench: install
	for script in bench/bench_*.py; do $(PYTHON) $$script || exit 1; done

clean:
	rm -rf build
