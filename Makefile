# The two commands: `make demo` and `make test`. Both build .venv on a fresh machine.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck imports pytest pytest-postgres bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# collectstatic first: the demo's pages link hashed, compressed static files cached for a year (docs/operations.md).
demo: $(STAMP)
	$(BIN)/tandem collectstatic --noinput --verbosity 0
	$(BIN)/tandem demo

# The SQLite and PostgreSQL runs share nothing (own databases, own media folders, free ports), so they run side
# by side: CI takes the longer of the two instead of their sum. -O prints each run's output whole when it ends.
test: $(STAMP) lint typecheck imports
	$(BIN)/tandem makemigrations --check --dry-run
	$(MAKE) -j2 -O pytest pytest-postgres

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The floors: nothing imports upward (contracts in pyproject.toml, floors in docs/architecture.md).
imports: $(STAMP)
	$(BIN)/lint-imports --no-cache

pytest: $(STAMP)
	TANDEM_DATABASE_URL=sqlite:///var/test.sqlite3 $(BIN)/pytest $(PYTEST_ARGS)

# The whole suite again on PostgreSQL when TANDEM_TEST_DATABASE_URL names a server (CI sets it).
pytest-postgres: $(STAMP)
	@if [ -n "$$TANDEM_TEST_DATABASE_URL" ]; then \
		echo "== PostgreSQL run against $$TANDEM_TEST_DATABASE_URL"; \
		TANDEM_DATABASE_URL="$$TANDEM_TEST_DATABASE_URL" $(BIN)/pytest $(PYTEST_ARGS); \
	else \
		echo "== PostgreSQL run skipped: TANDEM_TEST_DATABASE_URL is not set"; \
	fi

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var/test.sqlite3*
