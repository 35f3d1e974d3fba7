# The verbs a newcomer needs. Every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint audit format bench serve model clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

BROWSER_HINT := browser tests skipped (headless Chromium missing). To run them: \
	sudo apt-get install chromium chromium-driver \
	&& CRISIS_TRIAGE_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -m browser

test: install
	@status=0; $(BIN)/python -m pytest || status=$$?; \
	if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "$(BROWSER_HINT)"; fi; exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

audit: install
	$(BIN)/python .ci/audit.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m benchmarks

# make serve PORT=8080 HOST=0.0.0.0 (or CRISIS_TRIAGE_PORT / CRISIS_TRIAGE_HOST in the environment)
serve: install
	$(BIN)/crisis-triage serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

model: install
	$(BIN)/crisis-triage train-default

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
