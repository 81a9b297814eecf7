# The two commands a newcomer types: `make demo` and `make test`.
# Both create .venv on first use and install what they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CATALOGUES := exam_common/translations
PACKAGES := exam_common question_bank seating exam_client exam_server central
# two workers (pytest-xdist), a test file at a time each (the live tests mostly wait on
# their sittings' clocks, so two of them share the machine well); the slowest are listed
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=30

.PHONY: demo test lint typecheck pytest clean bench help model screenshots mutation translations

help:
	@echo "make demo   - set up .venv, seed a sample exam and start the centre server"
	@echo "make test   - set up .venv and run lint, type checks and the whole test suite"
	@echo "make bench  - run the benchmarks under bench/ (slow; prints figures)"
	@echo "make model  - the answer path's model-based test with many examples (MODEL_EXAMPLES=2000)"
	@echo "make mutation - mutation testing of the rules (MUTATION_SET=all|core; tools/mutation.py)"
	@echo "make screenshots - refresh the pictures in docs/img from the browser tests"
	@echo "make translations - extract the marked texts, merge them into each language's catalogue, compile"

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/pybabel -q compile -d $(CATALOGUES) -D messages
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --silent && touch $(NODE_STAMP); \
	else \
		echo "npm not found: the console page needs socket.io-client from npm (apt-get install npm)"; exit 1; \
	fi

demo: $(STAMP) $(NODE_STAMP)
	$(BIN)/exam-server demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy $(PACKAGES)

# Coverage (pytest-cov, subprocesses included: pyproject.toml [tool.coverage.run]), then
# each package and each module a day cannot do without held to its floor
# (tools/coverage_floors.py). COVERAGE=0 runs the tests without it.
COVERAGE ?= 1
COV_ARGS := $(if $(filter 1,$(COVERAGE)),--cov --cov-report=,)
pytest: $(STAMP) $(NODE_STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/python -m pytest $(COV_ARGS) $(PYTEST_ARGS)
	$(if $(filter 1,$(COVERAGE)),$(BIN)/python tools/coverage_floors.py,)

test: lint typecheck pytest

# The answer path's model-based test with many examples (make test runs a bounded few).
MODEL_EXAMPLES ?= 2000
model: $(STAMP)
	EXAM_MODEL_EXAMPLES=$(MODEL_EXAMPLES) $(BIN)/python -m pytest -q tests/server/test_answer_path_model.py

# Mutation testing of the rules the suite protects (mutmut, on a copy of the tree): fails on
# a surviving mutant that tools/mutation-known.json does not explain. CI runs the core set.
MUTATION_SET ?= all
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py --set $(MUTATION_SET)

# The docs' pictures (docs/img), taken by the browser tests on purpose; `make test` writes
# its screenshots to a temporary folder and never touches tracked files.
screenshots: $(STAMP) $(NODE_STAMP)
	EXAM_SCREENSHOTS=$(CURDIR)/docs/img $(BIN)/python -m pytest -q \
		tests/client/test_client_browser.py::test_screens_of_a_real_paper_for_the_docs \
		tests/console/test_console_browser.py

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache var demo-data

# Text through gettext catalogues (exam_common/i18n.py): the texts marked N_(context, text)
# are extracted into the template, merged into each language's catalogue (a new text
# arrives untranslated: fill in its msgstr, then run this again) and compiled. make test
# checks that every marked text is in both catalogues, translated
# (tests/common/test_catalogues.py).
translations: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg --no-default-keywords -k N_:1c,2 --sort-by-file \
		--no-wrap --project exam -o $(CATALOGUES)/messages.pot .
	$(BIN)/pybabel -q update -i $(CATALOGUES)/messages.pot -d $(CATALOGUES) -D messages \
		--no-wrap --ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel -q compile -d $(CATALOGUES) -D messages
