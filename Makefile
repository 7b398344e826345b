# FaceCoach: `make demo` coaches the bundled sample interview; `make test` runs every test.
# demo sets up what the demo needs (`make setup`); test also what only the tests need (`make setup-test`).
# Both are idempotent: seconds when nothing changed.
SHELL := /bin/bash
RUN := source env.sh &&

.PHONY: setup setup-test demo test lint bench soak clean
setup:
	@tools/setup.sh

setup-test:
	@tools/setup.sh --test

demo: setup
	@$(RUN) bin/facecoach demo

test: setup-test
	@$(RUN) python -m pytest src test -q -p no:cacheprovider

bench: setup
	@mkdir -p out && $(RUN) bin/facecoach bench --json out/bench.json

# Not in CI: the demo graph replaying the sample in a loop (default an hour), RSS per process every 5 minutes.
SOAK_SECONDS ?= 3600
soak: setup
	@$(RUN) python tools/soak.py --seconds $(SOAK_SECONDS)

lint: setup
	@$(RUN) ruff check src test launch tools && ruff format --check src test launch tools

# `make test` checks the house style first (ruff, as `make lint`), then runs the tests.
test: lint

clean:
	rm -rf build install log .venv .venv-device env.sh
