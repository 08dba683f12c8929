# Quick start: `make demo` serves the demo on http://localhost:8000; `make test` runs
# every test. Both create .venv and install the pinned dependencies when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench install browser fonts clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

# Headless Chromium from Debian for the real-browser tests (no browser downloads).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing Debian's chromium and chromium-driver"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

# A Japanese font for the PDF statements (WeasyPrint renders with fontconfig; without
# one it refuses to print boxes instead of text).
fonts:
	@fc-list :lang=ja 2>/dev/null | grep -qi "CJK" || { \
	  echo "installing Debian's fonts-noto-cjk (Japanese text in PDF statements)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-noto-cjk fontconfig >/dev/null; }

demo: install fonts
	$(BIN)/kabuguard demo

test: install browser fonts
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench

bench: install
	$(BIN)/python bench/orders_http.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
