# SiteWatch: `make demo` and `make test` do all set-up on Debian 12 (as root).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
SYSPY := /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
QGIS_PROCESS := /usr/bin/qgis_process.bin
DEBIAN_PACKAGES := python3-qgis qgis-providers qgis python3-gdal gdal-bin python3-venv \
	python3-pip python3-torch python3-onnx xvfb xauth poppler-utils
export QT_QPA_PLATFORM ?= offscreen
export QGIS_NO_OVERRIDE_IMPORT := 1
export PYTHONDONTWRITEBYTECODE := 1
PLUGIN_NAME := sitewatch
PROFILE_PLUGINS := $(HOME)/.local/share/QGIS/QGIS3/profiles/default/python/plugins

.PHONY: setup system-packages test demo install package eval bench robustness lint clean

setup: system-packages $(STAMP)

# Install the QGIS stack from Debian only when the system Python lacks it (or torch/onnx/xvfb).
system-packages:
	@if ! $(SYSPY) -c "import qgis.core, osgeo.gdal, torch, onnx" >/dev/null 2>&1 \
	   || ! command -v xvfb-run >/dev/null || ! command -v pdftoppm >/dev/null || ! $(SYSPY) -c "import venv, ensurepip" >/dev/null 2>&1; then \
	  if [ "$$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then \
	    echo "SiteWatch needs QGIS (with its Python bindings), GDAL, python3-venv, and optionally PyTorch and onnx:"; \
	    echo "see README.md 'Other platforms'."; exit 1; fi; \
	  echo "Installing QGIS and its Python stack from Debian packages..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $(DEBIAN_PACKAGES) >/dev/null; \
	fi

# Under a lock: two targets started together (make test & make demo) build the venv once.
$(STAMP): requirements-dev.txt
	@exec 9>$(VENV).lock; flock 9; \
	if [ ! -f $(STAMP) ] || [ requirements-dev.txt -nt $(STAMP) ]; then \
	  echo "Creating $(VENV) with pinned dev requirements..."; \
	  $(SYSPY) -m venv --system-site-packages $(VENV) \
	  && $(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 \
	     | { grep -v '^WARNING: Location' || true; } \
	  && touch $(STAMP); \
	fi

test: setup
	@$(VENV)/bin/ruff check --quiet .
	@$(PY) -m pytest -q tests

demo: setup
	@$(PY) tools/demo.py

eval: setup
	@$(PY) tools/eval.py $(ARGS)

bench: setup
	@$(PY) tools/bench.py $(ARGS)

# 50 failing sitewatch:detectchanges runs through qgis_process: fails when any run crashed.
robustness: setup
	@$(PY) tools/exit_loop.py $(or $(ARGS),50)

lint: setup
	@$(VENV)/bin/ruff check .

package: setup
	@$(PY) tools/package.py

# Link the working tree into the default QGIS profile and enable it for desktop and qgis_process.
install: setup
	@mkdir -p "$(PROFILE_PLUGINS)"
	@ln -sfn "$(CURDIR)" "$(PROFILE_PLUGINS)/$(PLUGIN_NAME)"
	@$(SYSPY) tools/enable_plugin.py "$(PLUGIN_NAME)"
	@QGIS_PLUGINPATH="$(PROFILE_PLUGINS)" $(QGIS_PROCESS) plugins enable $(PLUGIN_NAME) >/dev/null 2>&1 || true
	@echo "SiteWatch linked into $(PROFILE_PLUGINS)/$(PLUGIN_NAME) and enabled."

clean:
	rm -rf build dist demo-output test-output .pytest_cache .ruff_cache
