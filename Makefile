# The two commands of the README. `make test` is what CI runs (.ci/run).
PYTHON ?= python3

.PHONY: demo test

demo:   ## install, then replay the stylised crash on the synthetic sample lake
	$(PYTHON) -m pip install -e .
	$(PYTHON) -m backtest replay

test:   ## install everything the tests need (Python, npm, Chromium for the report test), then run them all
	$(PYTHON) -m pip install -e '.[test]'
	npm ci --no-audit --no-fund
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }
	$(PYTHON) -m pytest
