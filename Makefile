# The two commands of the README, and what they need. Each target installs what is missing.
SHELL := /bin/bash
SWIFT ?= swift
RUN_DIR ?= runs/demo

.PHONY: run test deps build bench reference clean

## The main job. Until `shallot study` lands: synthetic corpus → members/non-members → a small
## GPT-2 with its own BPE vocabulary → an audit of what it leaks (runs/demo/audit/audit.json).
SHALLOT := .build/release/shallot
run: deps build
	mkdir -p $(RUN_DIR)
	$(SHALLOT) corpus synth --subjects 80 --records 800 --seed 1 --canary-repeats 1,20 --canaries-per-repeat 2 --out $(RUN_DIR)/corpus.jsonl
	$(SHALLOT) corpus split $(RUN_DIR)/corpus.jsonl --fraction 0.8 --seed 1 --out-a $(RUN_DIR)/members.jsonl --out-b $(RUN_DIR)/nonmembers.jsonl
	$(SHALLOT) train --data $(RUN_DIR)/members.jsonl --vocab-size 1024 --out $(RUN_DIR)/model --layers 2 --heads 4 --dim 128 --context 128 --batch 8 --epochs 6 --lr 2e-3 --dropout 0
	$(SHALLOT) audit --model $(RUN_DIR)/model --data $(RUN_DIR)/members.jsonl --nonmembers $(RUN_DIR)/nonmembers.jsonl --canaries $(RUN_DIR)/corpus.jsonl.canaries.json --bootstrap 200 --out $(RUN_DIR)/audit

## The test suite (offline; fixtures are committed). Chromium is only for the check that the
## HTML reports run in a real browser; that test is skipped, saying so, where it cannot be installed.
test: deps
	@if [ "$$(uname)" = "Linux" ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); ($$SUDO apt-get install -y -q chromium || ($$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium)) \
	    || echo "warning: chromium could not be installed; the browser check of the HTML reports will be skipped"; \
	fi
	$(SWIFT) test

build: deps
	$(SWIFT) build -c release --product shallot

## OpenBLAS (Linux). On macOS Accelerate is part of the system.
deps:
	@if [ "$$(uname)" = "Linux" ] && ! ldconfig -p | grep -q 'libopenblas\.so\.0'; then \
	  echo "installing libopenblas-dev"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q libopenblas-dev; \
	fi
	@if [ "$$(uname)" = "Linux" ] && [ ! -f /usr/include/zlib.h ]; then SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -q && $$SUDO apt-get install -y -q zlib1g-dev; fi
	@if [ "$$(uname)" = "Linux" ] && [ ! -f /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -f /usr/include/cblas.h ] && [ ! -f /usr/include/aarch64-linux-gnu/cblas.h ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -q && $$SUDO apt-get install -y -q libopenblas-dev; \
	fi

## Side-by-side benchmark with PyTorch + transformers (needs: pip install torch transformers).
bench: build
	python3 Scripts/bench_peer.py --shallot .build/release/shallot

## Regenerate the reference fixtures (needs torch + transformers).
reference:
	python3 Scripts/make_reference.py

clean:
	rm -rf .build runs
