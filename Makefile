# Two commands for a fresh machine (python3 >= 3.11, a JDK 17+ and Maven are all it needs):
#   make demo   create .venv, install tagtrail, run the simulated warehouse on embedded defaults
#   make test   create .venv, install tagtrail with test extras, run the whole suite against real
#               Kafka (started from the official jars by deploy/local/kafka.sh) and real ClickHouse
#   make bench  every benchmark harness in a quick configuration (BENCH_ARGS="--full" for the
#               documented runs, "--only processor,queries" for some); see benchmarks/run_all.py
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test venv kafka-jars bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/tagtrail demo $(DEMO_ARGS)

kafka-jars:
	deploy/local/kafka.sh fetch > /dev/null

test: venv kafka-jars
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv kafka-jars
	$(PY) -m benchmarks.run_all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .tagtrail .pytest_cache
