# Quick start: `make serve` and `make test`. Both set up .venv from scratch when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SOURCES := pyproject.toml setup.py $(wildcard proto/engine/v1/*.proto) $(wildcard native/*.pyx native/*.pxd native/*.h)

.PHONY: setup stubs serve test lint bench mutation clean

$(STAMP): $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q 'setuptools>=77' wheel 'Cython~=3.1' 'grpcio-tools~=1.85'
	$(PY) -m pip install -q --no-build-isolation -e '.[dev]'
	$(PY) setup.py -q build_ext --inplace
	touch $(STAMP)

setup: $(STAMP)

# Regenerate the gRPC stubs after editing a .proto, without reinstalling.
stubs:
	$(PY) setup.py -q --version >/dev/null
	touch $(STAMP)

serve: setup
	$(VENV)/bin/engine serve

test: setup
	$(VENV)/bin/ruff check engine tests bench
	$(VENV)/bin/lint-imports --no-cache
	bash deploy/ci/system-packages.sh  # libfuse, rclone, redis-tools; a no-op when present
	bash deploy/ci/redis-py-versions.sh  # redis-py 5, 6, 7 beside the venv's 8; a no-op when present
	$(PY) -m pytest tests

bench: setup
	$(PY) -m pytest bench --benchmark-only --benchmark-columns=min,mean,ops

# mutmut on the central modules, each against its own unit tests, in a copy of the tree;
# prints a score per module (docs/reliability.md). Not CI: tens of minutes on 2 cores.
# `make mutation MODULES="entries slots"` for some; logs and caches go to build/mutation/.
mutation: setup
	nice -n 19 $(PY) tests/mutation/run.py $(MODULES)

lint: setup
	$(VENV)/bin/ruff check engine tests bench
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) build *.egg-info engine/_hotpath*.so engine/_resp_scan*.so native/*.c engine/v1/*_pb2*.py engine/v1/*_pb2.pyi
