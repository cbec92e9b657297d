# Two commands do all the set-up on a fresh machine (Python 3.11 + venv):
#   make up    - install into .venv, then run the whole federation
#   make test  - install into .venv (with test tools), then run the tests
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: up test scenarios bench stress clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

up: $(STAMP)
	$(VENV)/bin/fedsim up

test: $(STAMP)
	$(PYTHON) -m pytest -n auto --junitxml=reports/pytest.xml

scenarios: $(STAMP)
	$(VENV)/bin/fedsim scenario run --junit reports/scenarios.xml

bench: $(STAMP)
	$(PYTHON) benchmarks/bench_saml.py

stress: $(STAMP)
	$(PYTHON) benchmarks/stress_journeys.py --journeys 200 --concurrency 200

clean:
	rm -rf $(VENV) instance reports
