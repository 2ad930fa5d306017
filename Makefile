# Two commands on a fresh machine:  `make run` (set up + start the app), `make test` (set up + all tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
export QT_API := pyside6

# ../shared (datasets, YuNet) for the bundle's self-test; $ONESHOT_SHARED overrides it.
SHARED ?= $(or $(ONESHOT_SHARED),../shared)
BUNDLE_EXE := dist/oneshot-face/oneshot-face
SELF_TEST_PHOTO ?= $(SHARED)/datasets/samples/obama.jpg
YUNET_MODEL ?= $(SHARED)/models/face_detection_yunet_2026may.onnx

.PHONY: run test venv bundle bundle-check clean compare

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e '.[test,teacher]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(VENV)/bin/oneshot-face $(ARGS)

# Lint (ruff: errors, style, import order), type-check (mypy, settings in pyproject.toml), the test suite, then the stand-alone bundle is built and self-tested (CI runs exactly this).
# Like the tests that need ../shared, the bundle check is skipped without it, except on CI.
test: venv
	$(VENV)/bin/ruff check app tests benchmarks
	$(VENV)/bin/mypy app
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(PYTEST_ARGS)
	@if [ -d "$(SHARED)" ] || [ -n "$$CI" ]; then $(MAKE) --no-print-directory bundle-check; \
	else echo "make test: bundle check skipped, $(SHARED) is missing (set ONESHOT_SHARED)"; fi

$(VENV)/.bundle-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[bundle]'
	touch $@

# One-folder PyInstaller bundle of the app (CPU): dist/oneshot-face/oneshot-face, ~2 min on 2 cores.
bundle: $(VENV)/.bundle-installed
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN build.spec
	@du -sh dist/oneshot-face

# Builds the bundle, then runs its --self-test headless with YuNet and with Haar, in a temporary
# data folder; fails if the run wrote anything inside dist/oneshot-face.
bundle-check: bundle
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	find dist/oneshot-face | sort > "$$tmp/before" && \
	export ONESHOT_DATA_DIR="$$tmp/data" ONESHOT_CACHE_DIR="$$tmp/cache" QT_QPA_PLATFORM=offscreen && \
	$(BUNDLE_EXE) --self-test "$(SELF_TEST_PHOTO)" --detector yunet --detector-model "$(YUNET_MODEL)" && \
	$(BUNDLE_EXE) --self-test "$(SELF_TEST_PHOTO)" --detector haar && \
	find dist/oneshot-face | sort > "$$tmp/after" && \
	diff "$$tmp/before" "$$tmp/after" && \
	test -z "$$(find dist/oneshot-face -newer "$$tmp/before")" || \
	{ echo "bundle-check: the self-test failed or wrote inside dist/oneshot-face" >&2; exit 1; }

# Side by side with face_recognition (dlib): full LFW protocols + the clip, ~15-25 min on 2 cores.
# face_recognition goes in with --no-deps: its package imports only PIL, numpy, dlib and
# face_recognition_models (click is only for its command-line tools).
compare: venv
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m pip install --quiet --no-deps face_recognition==1.3.0
	$(PY) benchmarks/compare_face_recognition.py --json --out-md benchmarks/results.md \
		--out-json benchmarks/results.json $(COMPARE_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info
