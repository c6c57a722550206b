# Two commands for a newcomer: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo test migrate serve clean

# Reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Migrates, creates the demo organisation, writes 90 days of FOCUS exports, ingests them
# through the real pipeline, prints a login and serves on http://$(HOST):$(PORT).
demo: migrate
	$(BIN)/python manage.py seed_demo $(if $(DEMO_PASSWORD),--password "$(DEMO_PASSWORD)")
	DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

# With DATABASE_URL and REDIS_URL set the suite runs against them; without, on SQLite
# with Celery tasks run eagerly.
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

serve: migrate
	DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
