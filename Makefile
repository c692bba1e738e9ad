# make run  : create/refresh .venv, install dlstudio, open the studio on the default example
# make package : one-folder app in dist/dlstudio (PyInstaller)
# make test : create/refresh .venv, install dlstudio with dev extras, run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
CONSTRAINTS := packaging/constraints.txt

.PHONY: run test venv dev clean bench package

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

test: $(DEVSTAMP)
	$(PY) -m dlstudio.system_deps --install --platform offscreen
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/compile_overhead.py
	$(PY) benchmarks/editor_scale.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/editor_ui.py

package: $(STAMP)
	$(PY) -m pip install --quiet "pyinstaller>=6.3"
	$(PY) -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/dlstudio.spec

clean:
	rm -rf $(VENV) build *.egg-info
