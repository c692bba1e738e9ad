# make run  : create/refresh .venv, install dlstudio, open the studio on the default example
# make package : one-folder app in dist/dlstudio (PyInstaller)
# make test : create/refresh .venv, install dlstudio with dev extras, run the lint checks and the whole test suite
# make test-fast : the suite without GUI, training-to-quality and slow (subprocess) tests
# make lint : ruff (lint + format check), mypy and the import-linter contracts
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
CONSTRAINTS := packaging/constraints.txt

.PHONY: run test test-fast lint venv dev clean bench package

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml $(CONSTRAINTS)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e .
	touch $(STAMP)

$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $(DEVSTAMP)

venv: $(STAMP)
dev: $(DEVSTAMP)

run: $(STAMP)
	$(PY) -m dlstudio.system_deps --install --platform xcb
	$(PY) -m dlstudio

# two pytest-xdist workers, each with its own QApplication; a worker that a stuck test ends is replaced
PYTEST := QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -n 2 --dist worksteal --max-worker-restart 8

test: $(DEVSTAMP) lint
	$(PY) -m dlstudio.system_deps --install --platform offscreen
	$(PYTEST)

test-fast: $(DEVSTAMP)
	$(PYTEST) -m "not gui and not train and not slow"

lint: $(DEVSTAMP)
	$(PY) -m ruff check dlstudio tests benchmarks examples
	$(PY) -m ruff format --check dlstudio tests benchmarks examples
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/compile_overhead.py
	$(PY) benchmarks/editor_scale.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/editor_ui.py

package: $(STAMP)
	$(PY) -m pip install --quiet "pyinstaller>=6.3"
	$(PY) -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/dlstudio.spec

clean:
	rm -rf $(VENV) build *.egg-info
