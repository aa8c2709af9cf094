# Injection Planner: set-up, run and test on a fresh Debian bookworm machine.
#   make run    create .venv, install, open the GUI on the lumbar sample study
#   make test   same venv, whole test suite headless
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# System libraries the Qt and VTK wheels need (../shared/design/HEADLESS.md).
SYSTEM_PACKAGES := libgl1 libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 \
  libxkbcommon0 libxkbcommon-x11-0 libglib2.0-0 libfreetype6 libfontconfig1 libdbus-1-3 \
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcursor1 xvfb xauth

# Headless drawing for tests: Qt off-screen, VTK through OSMesa.
HEADLESS_ENV := QT_QPA_PLATFORM=offscreen VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow

.PHONY: run test system-deps venv samples phantoms lint bench clean FORCE

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "Missing system libraries: $$missing"; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	    echo "Install them with (as root):"; \
	    echo "  apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES)"; \
	    exit 1; \
	fi

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==26.3"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# Generated phantom studies (not committed): rebuilt when missing or older than their generator.
PHANTOM_STAMP := sample_dicom/.phantoms.stamp
PHANTOM_OUTPUTS := $(foreach n,knee_ct knee_mr shoulder_ct hip_ct,sample_dicom/$(n)/labels.nrrd)
$(PHANTOM_STAMP): $(wildcard imaging/phantoms/*.py) imaging/dicom/write.py imaging/labelmap.py \
    $(if $(filter-out $(wildcard $(PHANTOM_OUTPUTS)),$(PHANTOM_OUTPUTS)),FORCE) | venv
	$(PY) -m imaging.phantoms
	@touch $@

phantoms: $(PHANTOM_STAMP)

FORCE:

run: system-deps venv $(PHANTOM_STAMP)
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ] && [ -z "$$QT_QPA_PLATFORM" ]; then \
	    echo "No display found. Run it under a virtual screen:  xvfb-run -a make run"; \
	    echo "or render a picture of the window headless:  $(VENV)/bin/injection-planner --screenshot window.png"; \
	    exit 2; \
	fi
	$(VENV)/bin/injection-planner $(ARGS)

test: system-deps venv $(PHANTOM_STAMP)
	$(HEADLESS_ENV) $(PY) -m pytest $(PYTEST_ARGS)

samples: venv
	$(PY) -m imaging.samples
	@touch $(PHANTOM_STAMP)

lint: venv
	$(VENV)/bin/ruff check imaging planner ui tests benchmarks
	$(VENV)/bin/lint-imports

bench: venv
	@for b in benchmarks/*.py; do echo "== $$b"; $(HEADLESS_ENV) $(PY) $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
