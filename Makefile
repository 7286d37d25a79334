# Two commands do all the set-up: `make lab` and `make test`. Versions come from constraints.txt.
VENV   ?= .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8888
# The Python that creates the venv: `make lab BASE_PYTHON=python3.12`.
BASE_PYTHON ?= python3
# JupyterLab refuses to start as root (containers, CI) unless told --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: install lab dashboard test test-profiles course course-small bench clean deploy-install deploy-check test-deploy test-matrix gpu-check gpu-wheels

$(STAMP): pyproject.toml constraints.txt tools/check_python.py
	# A Python older than requires-python stops here in seconds, not after minutes of pip.
	$(if $(wildcard $(PYTHON)),$(PYTHON),$(BASE_PYTHON)) tools/check_python.py
	test -x $(PYTHON) || $(BASE_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -c constraints.txt --upgrade pip
	# -c constraints.txt pins every package, torch to its CPU build (no multi-GB CUDA wheels);
	# --build-constraint pins setuptools, which builds labkit itself.
	$(PYTHON) -m pip install --quiet -c constraints.txt --build-constraint constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(if $(ALLOW_ROOT),@echo "warning: running JupyterLab as root (--allow-root); a normal user account is safer.")
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ALLOW_ROOT) \
		--ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb

# Lesson 02's rank sweep, one line per run, on trackio's local dashboard (this machine only).
dashboard: install
	TRACKIO_DIR=build/trackio $(VENV)/bin/trackio show --project labkit-02-lora --host 127.0.0.1

test: install
	$(PYTHON) -m pytest

course: install
	$(PYTHON) -m labkit.course

course-small: install
	$(PYTHON) -m labkit.course --small --out build/course-small

bench: install
	for script in bench/bench_*.py; do $(PYTHON) $$script || exit 1; done

# Lesson 05's deployment: llama.cpp built from llama-cpp-python's source (no prebuilt binaries),
# once per version (8 CPU-minutes). Its source also holds llama.cpp's GGUF converter.
LLAMA_CPP_VERSION := $(shell sed -n 's/^llama-cpp-python==//p' constraints.txt)
LLAMA_CPP_DIR     := build/llama-cpp-python
LLAMA_CPP_BUILT   := $(LLAMA_CPP_DIR)/wheels/.built-$(LLAMA_CPP_VERSION)
DEPLOY_STAMP      := $(VENV)/.deploy-stamp-$(LLAMA_CPP_VERSION)

$(LLAMA_CPP_BUILT): | $(STAMP)
	$(PYTHON) -m pip download --quiet --no-binary :all: --no-deps llama-cpp-python==$(LLAMA_CPP_VERSION) -d $(LLAMA_CPP_DIR)
	tar -xzf $(LLAMA_CPP_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz -C $(LLAMA_CPP_DIR)
	# LLAVA_BUILD=OFF: no multimodal library; the course sends text only (a shorter build).
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(PYTHON) -m pip wheel --quiet --no-deps -w $(LLAMA_CPP_DIR)/wheels \
		$(LLAMA_CPP_DIR)/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz
	touch $@

$(DEPLOY_STAMP): $(STAMP) $(LLAMA_CPP_BUILT)
	$(PYTHON) -m pip install --quiet -c constraints.txt --find-links $(LLAMA_CPP_DIR)/wheels \
		--only-binary llama-cpp-python -e ".[deploy]"
	touch $@

deploy-install: $(DEPLOY_STAMP)

# Exports lesson 05's merged tiny model to GGUF (f16, q8_0) with an Ollama Modelfile, compares answers
# with PyTorch's, and writes build/deploy/report.json.
deploy-check: deploy-install
	$(PYTHON) tools/deploy_check.py

test-deploy: deploy-install
	$(PYTHON) -m pytest -m deploy tests/test_deploy.py

# Unit tests and the small course against pinned, latest and minimum versions (build/matrix/report.json).
test-matrix: install
	$(PYTHON) -m pip install --quiet -c constraints.txt -e ".[matrix]"
	$(VENV)/bin/nox

# Every lesson on the stand-in of every hub architecture (`make test` runs qwen and mistral only).
test-profiles: install
	LABKIT_STANDINS="standin-smol standin-qwen standin-mistral" $(PYTHON) -m pytest -m standin tests/test_standins.py

# On a machine with an NVIDIA GPU: the small course in bf16, fp16 and 4-bit, and Liger's kernels
# (tools/gpu_check.sh says which runs; figures in build/gpu/summary.md, for bench/README.md).
# Offline GPU machines install the wheels that `make gpu-wheels` put in .whl/ where a registry is reachable.
gpu-check:
	PYTHON=$(if $(wildcard $(PYTHON)),$(PYTHON),python3) bash tools/gpu_check.sh

gpu-wheels: install
	$(PYTHON) tools/gpu_wheels.py

clean:
	rm -rf build
