# The two commands of the README. `make test` is what CI runs (.ci/run).
PYTHON ?= python3

.PHONY: demo test

demo:   ## install, then replay the stylised crash on the synthetic sample lake
	$(PYTHON) -m pip install -e .
	$(PYTHON) -m backtest replay

test:   ## install everything the tests need (Python and npm), then run them all
	$(PYTHON) -m pip install -e '.[test]'
	npm ci --no-audit --no-fund
	$(PYTHON) -m pytest
