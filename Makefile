# Two commands do all the set-up on a fresh machine (Python 3.11 + venv):
#   make up    - install into .venv, then run the whole federation
#   make test  - install into .venv (with test tools), then run the tests
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: up test test-postgres scenarios bench stress load clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

up: $(STAMP)
	$(VENV)/bin/fedsim up

test: $(STAMP)
	$(PYTHON) -m pytest -n auto --junitxml=reports/pytest.xml

# The flow tests again with every app's database on PostgreSQL: a local server
# through its Unix socket as the current user, or FEDSIM_TEST_POSTGRES_URL
# (a role that may create databases); README « PostgreSQL ».
test-postgres: $(STAMP)
	FEDSIM_TEST_DATABASE=postgresql $(PYTHON) -m pytest -n auto --junitxml=reports/pytest-postgres.xml \
		tests/flows tests/harness/test_postgres.py

scenarios: $(STAMP)
	$(VENV)/bin/fedsim scenario run --junit reports/scenarios.xml

bench: $(STAMP)
	$(PYTHON) benchmarks/bench_saml.py

stress: $(STAMP)
	$(PYTHON) benchmarks/stress_journeys.py --journeys 200 --concurrency 200

# A federation with 2000 synthetic citizens, then 20 Locust users for 1 min
# against it (report in reports/locust_*.csv); benchmarks/load_federation.py
# alone serves it for a longer or distributed run (see README).
load: $(STAMP)
	@mkdir -p reports
	$(PYTHON) benchmarks/load_federation.py --free-ports > reports/load_federation.log 2>&1 & pid=$$!; \
	trap 'kill $$pid' EXIT; \
	until grep -q FEDSIM_LOAD_PEOPLE reports/load_federation.log; do \
		kill -0 $$pid 2>/dev/null || { cat reports/load_federation.log; exit 1; }; sleep 1; done; \
	env $$(grep -o 'FEDSIM_[A-Z_]*=[0-9]*' reports/load_federation.log | sort -u) \
		$(VENV)/bin/locust -f benchmarks/locustfile.py --headless -u 20 -r 5 -t 1m --only-summary \
		--exit-code-on-error 1 --csv reports/locust

clean:
	rm -rf $(VENV) instance reports
