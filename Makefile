# One Makefile for people and CI alike. `make demo` and `make test` install what
# is missing first (Python venv + packages, the pinned Node toolchain).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp
NODE_STAMP := node_modules/.package-lock.json
BENCH_JSON ?= bench-results.json
ANVIL_PORT ?= 8545

.PHONY: lock setup browser postgres demo test lint format contracts openapi bench anvil anvil-stop clean

setup: $(STAMP) $(NODE_STAMP)

# constraints.txt pins every package to the versions the suite passed with: a fresh
# clone (CI) installs what was tested, not whatever was released since.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

# Move the pins to the newest releases pyproject.toml allows; then run make test.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade --upgrade-strategy eager -e '.[dev]'
	@{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

# npm ci installs exactly the lock file: solc (the compiler), OpenZeppelin, anvil.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(VENV)/bin/ledger demo

# The console's browser tests drive Debian's Chromium (with CJK fonts, so Chinese labels
# render in screenshots); installed from Debian's packages when missing (root or sudo).
CHROMIUM ?= /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -e $(CJK_FONT) ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi
	@test -x $(CHROMIUM) || { echo "chromium is missing: apt-get install chromium" >&2; exit 1; }

# The store's tests run on PostgreSQL too: each pytest worker starts a throw-away cluster
# of Debian's server (initdb + pg_ctl, tests/_postgres.py), installed here when missing.
PG_INITDB := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
postgres:
	@if [ -z "$(PG_INITDB)" ] && ! command -v initdb >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	fi
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		{ echo "the PostgreSQL server is missing: apt-get install postgresql" >&2; exit 1; }

# One worker per core, at most 4 (each test may start a node or CLI processes of its own).
test: setup browser postgres
	$(VENV)/bin/pytest -q -n auto --maxprocesses 4

lint: setup
	$(VENV)/bin/ruff format --check ledger api scripts tests
	$(VENV)/bin/ruff check ledger api scripts tests
	$(VENV)/bin/mypy
	$(PY) scripts/check_contracts.py

format: setup
	$(VENV)/bin/ruff format ledger api scripts tests
	$(VENV)/bin/ruff check --fix ledger api scripts tests

contracts: setup
	$(PY) scripts/compile_contracts.py

# On release only: the app's OpenAPI document becomes the published one that the
# compatibility gate (tests/api/test_compat.py) holds later changes to.
openapi: setup
	$(PY) scripts/openapi.py

bench: setup
	$(PY) scripts/bench.py --json $(BENCH_JSON)

# The pinned anvil (npm ci) in the background on 127.0.0.1:$(ANVIL_PORT), for `ledger --rpc`;
# its pid and log go to .anvil/. It keeps its chain in memory: anvil-stop ends that chain.
anvil: setup
	@$(PY) scripts/devnode.py start --port $(ANVIL_PORT) --dir .anvil

anvil-stop:
	@$(PYTHON) scripts/devnode.py stop --port $(ANVIL_PORT) --dir .anvil

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
