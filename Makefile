# Two commands on a fresh machine:  `make run` (set up + start the app), `make test` (set up + all tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
export QT_API := pyside6

.PHONY: run test venv bundle clean compare

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e '.[test,teacher]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(VENV)/bin/oneshot-face $(ARGS)

test: venv
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(PYTEST_ARGS)

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
