# The two commands of the README: `make up` runs the whole local stack, `make test` the suite.
# Both install what a fresh machine lacks first (npm packages, the Temporal CLI, the RabbitMQ
# management plugin) and skip what is already there.

SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help up test deps build temporal-cli rabbitmq-console test-tools preflight typecheck bench clean

help:
	@echo "make up     run the whole stack (Temporal dev server, worker, projector, API)"
	@echo "make test   run the test suite against real Temporal, RabbitMQ and Redis"

# `npm install` rather than `npm ci`: the lock file lists optional native builds (@swc/core) per
# platform, and a registry that lacks one makes `npm ci` refuse the whole install.
node_modules/.ledgerflow-installed: package.json package-lock.json
	npm install --no-audit --no-fund
	@touch $@

deps: node_modules/.ledgerflow-installed

temporal-cli:
	@bash scripts/install-temporal.sh >/dev/null

rabbitmq-console:
	@bash scripts/enable-rabbitmq-management.sh

test-tools:
	@bash scripts/install-test-tools.sh

build: deps
	npm run --silent build

preflight: deps
	@npx --no-install tsx bin/preflight.ts

# The reference app (examples/shop) run as any app runs itself: `ledgerflow dev` in its folder.
up: deps temporal-cli rabbitmq-console build preflight
	cd examples/shop && LEDGERFLOW_TEMPORAL_CLI="$$(bash ../../scripts/install-temporal.sh)" node ../../dist/bin/ledgerflow.js dev

typecheck: deps
	npm run --silent typecheck

test: deps temporal-cli rabbitmq-console test-tools build preflight typecheck
	npm test

# Not part of the tests: every stage measured against the ceiling beneath it, written to
# bench/results/latest.json and BENCHMARKS.md. Bounded (under ten minutes by default); tune it
# with BENCH_SECONDS, BENCH_CONCURRENCY and the other variables in bench/settings.ts.
bench: deps temporal-cli build preflight
	npm run --silent bench

clean:
	rm -rf dist client/dist .data examples/shop/.ledgerflow
