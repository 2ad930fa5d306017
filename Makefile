# Two commands on a fresh machine:  `make run` (set up + start the app), `make test` (set up + all tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
export QT_API := pyside6

# ../shared (the sample photo) for the bundle's self-test; $ONESHOT_SHARED overrides it.
SHARED ?= $(or $(ONESHOT_SHARED),../shared)
BUNDLE_EXE := dist/oneshot-face/oneshot-face
SELF_TEST_PHOTO ?= $(SHARED)/datasets/samples/obama.jpg
YUNET_FILE := face_detection_yunet_2026may.onnx

.PHONY: run test venv bundle bundle-check clean compare screenshot

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
	$(VENV)/bin/lint-imports
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

# Builds the bundle, then runs its --self-test headless in a temporary data folder, as a fresh
# install would (no ../shared, an empty home): it must find its own YuNet copy (models/ inside the
# bundle); with that copy hidden ($ONESHOT_YUNET at a missing file) it must say "Haar fallback";
# and Haar chosen by name. Fails if a run wrote anything inside dist/oneshot-face.
bundle-check: bundle
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	find dist/oneshot-face | sort > "$$tmp/before" && \
	mkdir -p "$$tmp/home" && cp "$(SELF_TEST_PHOTO)" "$$tmp/photo.jpg" && \
	export ONESHOT_DATA_DIR="$$tmp/data" ONESHOT_CACHE_DIR="$$tmp/cache" QT_QPA_PLATFORM=offscreen \
		ONESHOT_SHARED="$$tmp/no-shared" HOME="$$tmp/home" XDG_DATA_HOME="$$tmp/home/.local/share" \
		XDG_CACHE_HOME="$$tmp/home/.cache" XDG_CONFIG_HOME="$$tmp/home/.config" && \
	$(BUNDLE_EXE) --self-test "$$tmp/photo.jpg" > "$$tmp/fresh.log" && cat "$$tmp/fresh.log" && \
	grep -q "detector yunet ($(abspath dist/oneshot-face)/.*/$(YUNET_FILE))" "$$tmp/fresh.log" && \
	ONESHOT_YUNET="$$tmp/missing.onnx" $(BUNDLE_EXE) --self-test "$$tmp/photo.jpg" > "$$tmp/haar.log" && cat "$$tmp/haar.log" && \
	grep -q "Haar fallback: more faces missed; YuNet file missing at $$tmp/missing.onnx" "$$tmp/haar.log" && \
	$(BUNDLE_EXE) --self-test "$$tmp/photo.jpg" --detector haar && \
	find dist/oneshot-face | sort > "$$tmp/after" && \
	diff "$$tmp/before" "$$tmp/after" && \
	test -z "$$(find dist/oneshot-face -newer "$$tmp/before")" || \
	{ echo "bundle-check: the self-test failed, did not use the bundle's own YuNet (or hid a Haar fallback), or wrote inside dist/oneshot-face" >&2; exit 1; }

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

# The README's picture from the real window (offscreen, the sample clip from ../shared as the camera).
screenshot: venv
	QT_QPA_PLATFORM=offscreen $(PY) scripts/screenshot.py --out resources/screenshot.png
