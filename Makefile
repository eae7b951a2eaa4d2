# `make demo`: set up and open the demo in JupyterLab.  `make test`: set up and run every test.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.installed
export LABELWIDGETS_HOME ?= $(CURDIR)/.cache/labelwidgets
export MPLCONFIGDIR      ?= $(CURDIR)/.cache/matplotlib
export YOLO_CONFIG_DIR   ?= $(CURDIR)/.cache/ultralytics
export YOLO_OFFLINE      := 1
export HF_HUB_OFFLINE    := 1
export JUPYTER_CONFIG_DIR  ?= $(CURDIR)/.cache/jupyter/config
export JUPYTER_RUNTIME_DIR ?= $(CURDIR)/.cache/jupyter/runtime
export IPYTHONDIR          ?= $(CURDIR)/.cache/ipython

.PHONY: setup browser demo test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch 2.14.1 / torchvision 0.29.1 are pinned (see README: a CPU run needs no CUDA download here)
	$(PIP) install --quiet -e ".[train,postgres,serve,dev,cluster,demo]"
	$(PIP) install --quiet --no-deps "crowd-kit==1.4.2"
	touch $(STAMP)

setup: $(STAMP)

browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

demo: setup
	$(VENV)/bin/labelwidgets demo

lint: setup
	$(VENV)/bin/ruff check labelwidgets tests benchmarks

test: setup browser lint
	LABELWIDGETS_TEST_MODE=1 $(VENV)/bin/pytest -p no:cacheprovider -ra \
	    --nbval --sanitize-with notebooks/nbval_sanitize.cfg --nbval-cell-timeout 900 \
	    --doctest-modules labelwidgets tests notebooks

bench: setup
	for b in benchmarks/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf .cache artifacts labelwidgets-demo
