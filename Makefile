# cityops — `make demo` serves the Gongshu demo, `make test` runs the whole suite.
# Both set everything up on a fresh machine: the virtual environment, the packages, the database.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DB ?= sqlite:///var/demo.db
VENDOR := src/cityops/web/static/vendor
VENDOR_STAMP := $(VENDOR)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test serve venv vendor lint typecheck bench migration clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "cityops needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install cityops with its development tools

# Front-end packages come from npm (package.json + package-lock.json) and are copied into
# web/static/vendor, which the app serves itself: no page loads anything from another host.
$(VENDOR_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/leaflet $(VENDOR)/swagger-ui $(VENDOR)/redoc
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css node_modules/leaflet/dist/images $(VENDOR)/leaflet/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	cp node_modules/redoc/bundles/redoc.standalone.js $(VENDOR)/redoc/
	touch $(VENDOR_STAMP)

vendor: $(VENDOR_STAMP) ## Install the front-end packages from npm into web/static/vendor

demo: $(STAMP) $(VENDOR_STAMP) ## Set up, load the Gongshu demo and serve it on http://127.0.0.1:8000
	CITYOPS_DEMO_MODE=true CITYOPS_DATABASE_URL=$(DEMO_DB) $(BIN)/cityops demo
	CITYOPS_DEMO_MODE=true CITYOPS_DATABASE_URL=$(DEMO_DB) $(BIN)/cityops serve --host 127.0.0.1 --port 8000

test: $(STAMP) $(VENDOR_STAMP) ## Set up and run the whole test suite (SQLite; PostgreSQL too when CITYOPS_TEST_DATABASE_URL is set)
	$(BIN)/pytest -n 2 -q

lint: $(STAMP) ## ruff, mypy and the import contracts (capability boundaries)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) ## Run every benchmark; one JSON line per figure
	@for b in benchmarks/bench_*.py; do echo "# $$b" >&2; $(BIN)/python $$b || exit 1; done

migration: $(STAMP) ## Regenerate the initial migration from the models (until the first release)
	rm -f src/cityops/migrations/versions/*.py
	rm -f var/migration-autogen.db
	mkdir -p var
	$(BIN)/python -c 'from alembic import command; from cityops.migrate import alembic_config; \
		command.revision(alembic_config("sqlite:///var/migration-autogen.db"), "initial schema", autogenerate=True, rev_id="0001")'
	$(BIN)/ruff check --fix --quiet src/cityops/migrations/versions || true
	$(BIN)/ruff format --quiet src/cityops/migrations/versions || true

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) var node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
