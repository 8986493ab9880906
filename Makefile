# Dependable: the commands a developer runs. `make help` lists them.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS ?= never
UV ?= uv
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install dev run worker test scale-test fuzz lint fmt typecheck migrate migration check-migrations containers-check k8s-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: ## Create .venv from uv.lock (runtime and dev dependencies)
	$(UV) sync --locked

dev: ## Run the API with auto-reload (APP_ENV=development unless set)
	APP_ENV=$${APP_ENV:-development} $(UV) run uvicorn --factory app.main:create_app --reload --host $(HOST) --port $(PORT) --no-access-log

run: ## Run the API as production would (no reload; the Dockerfile's flags and limits)
	$(UV) run uvicorn --factory app.main:create_app --host $(HOST) --port $(PORT) --proxy-headers --no-access-log --timeout-graceful-shutdown 20 --http h11 --h11-max-incomplete-event-size 16384 --limit-concurrency 200 --timeout-keep-alive 5

worker: ## Run the worker (outbox relay to Redis Streams, housekeeping) until Ctrl-C
	APP_ENV=$${APP_ENV:-development} $(UV) run python -m app.worker

test: ## Run the test suite against real PostgreSQL and Redis (checked first)
	@bash scripts/check-services.sh
	$(UV) run pytest $(PYTEST_ARGS)

scale-test: ## Three replicas behind nginx, directly and through PgBouncer (make test runs it too)
	@bash scripts/check-services.sh
	$(UV) run pytest -m scale $(PYTEST_ARGS)

fuzz: ## The OpenAPI contract with a larger schemathesis budget (make test runs 15 per operation)
	@bash scripts/check-services.sh
	CONTRACT_MAX_EXAMPLES=$${CONTRACT_MAX_EXAMPLES:-200} $(UV) run pytest tests/contract/test_schemathesis.py -q

lint: ## ruff (lint and format check), the import contracts (lint-imports) and mypy --strict (app and tests)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports --no-logo --no-cache
	$(UV) run mypy --strict app tests

fmt: ## Format and autofix
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

migrate: ## Bring the database to the newest migration (creating the database if it does not exist)
	$(UV) run python -m app.cli create-database
	$(UV) run alembic upgrade heads

migration: ## New spine revision from model changes: make migration m="add invoices"
	$(UV) run alembic revision --autogenerate --head spine@head -m "$(m)"

check-migrations: ## Fail if the models and the migrations disagree
	$(UV) run alembic check

containers-check: ## Static checks of the Dockerfile and compose files (no engine needed)
	$(UV) run hadolint Dockerfile
	$(UV) run docker-compose -f docker-compose.yml config -q

k8s-check: ## Render deploy/kubernetes (kustomize), validate against the API schemas, lint with checkov
	bash scripts/k8s-check.sh

.PHONY: compose-smoke
compose-smoke: ## Build the image, start the compose stack under a throwaway name, smoke-test it over HTTP, tear it down
	bash scripts/compose-smoke.sh

.PHONY: depgraph
depgraph: ## Regenerate docs/dependency-graph.md (Mermaid) and print every route's dependency tree
	$(UV) run python -m app.cli depgraph --format mermaid --output docs/dependency-graph.md
	$(UV) run python -m app.cli depgraph

.PHONY: domain
domain: ## Scaffold a tenant-owned domain: make domain name=invoice fields="title:str due:date amount:int"
	$(UV) run python -m app.cli new-domain "$(name)" $(if $(fields),--fields "$(fields)")
	$(UV) run python -m app.cli depgraph --format mermaid --output docs/dependency-graph.md

# demo:begin: the benchmark measures the demo's routes
.PHONY: bench
bench: ## Benchmark Dependable against a raw baseline (pins cores, ~8 min); writes docs/benchmarks.md
	$(UV) run --locked python -m bench.run $(BENCH_ARGS)
# demo:end

# template:begin (the copier template's own checks: not part of a generated project)
.PHONY: template-check
template-check: ## Render the copier template (defaults; no demo plus a new domain) and run each project's lint, types and tests
	bash scripts/template-check.sh

.PHONY: demo-off-check
demo-off-check: ## Remove the demo from a copy of this checkout and run lint, types and tests there
	@bash scripts/check-services.sh
	bash scripts/template/check_demo_off.sh $(PYTEST_ARGS)
# template:end
