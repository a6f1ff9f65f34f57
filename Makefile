# The two commands of the README, and what they need. Each target installs what is missing.
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: run demo test test-asan fuzz fuzz-build deps build bench bench-audit reference clean

## The main job: the onion-effect and pre-training-leakage study on the built-in synthetic
## corpora (PRESET=default: about 18 minutes on 2 cores; PRESET=quick: about 4 minutes; BENCHMARKS.md).
## Re-running continues an interrupted study. Results: $(RUN_DIR)/study.json and study.html.
PRESET ?= default
RUN_DIR ?= runs/study-$(PRESET)
SHALLOT := .build/release/shallot
run: deps build
	$(SHALLOT) study --preset $(PRESET) --out $(RUN_DIR)

## A model audit at toy scale: synthetic corpus with canaries → members/non-members → a small
## GPT-2 with its own BPE vocabulary → audit.json + audit.html.
DEMO_DIR ?= runs/demo
demo: deps build
	mkdir -p $(DEMO_DIR)
	$(SHALLOT) corpus synth --subjects 80 --records 800 --seed 1 --canary-repeats 1,20 --canaries-per-repeat 2 --out $(DEMO_DIR)/corpus.jsonl
	$(SHALLOT) corpus split $(DEMO_DIR)/corpus.jsonl --fraction 0.8 --seed 1 --out-a $(DEMO_DIR)/members.jsonl --out-b $(DEMO_DIR)/nonmembers.jsonl
	$(SHALLOT) train --data $(DEMO_DIR)/members.jsonl --vocab-size 1024 --out $(DEMO_DIR)/model --layers 2 --heads 4 --dim 128 --context 128 --batch 8 --epochs 6 --lr 2e-3 --dropout 0
	$(SHALLOT) audit --model $(DEMO_DIR)/model --data $(DEMO_DIR)/members.jsonl --nonmembers $(DEMO_DIR)/nonmembers.jsonl --canaries $(DEMO_DIR)/corpus.jsonl.canaries.json --bootstrap 200 --out $(DEMO_DIR)/audit

## The test suite (offline; fixtures are committed). Chromium is only for the check that the
## HTML reports run in a real browser; that test is skipped, saying so, where it cannot be installed.
test: deps
	@if [ "$$(uname)" = "Linux" ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); ($$SUDO apt-get install -y -q chromium || ($$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium)) \
	    || echo "warning: chromium could not be installed; the browser check of the HTML reports will be skipped"; \
	fi
	$(SWIFT) test

## The test suite under address sanitizer (memory errors). Leak detection is off: a CLI that
## exits with status 1 on bad input leaves its allocations to the OS, and the tests read stderr.
test-asan: deps
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --sanitize=address --scratch-path .build/asan

## libFuzzer targets for every parser of untrusted files (Fuzz/, docs/security.md), each run for
## FUZZ_SECONDS (default 30). A crash leaves its input in .build/fuzz/crashes/<target>/ and fails.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) Fuzz/fuzz.sh run $(FUZZ_TARGETS)
fuzz-build:
	Fuzz/fuzz.sh build

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

## The audit's hot paths against the same attack in PyTorch + transformers.
bench-audit: build
	python3 Scripts/bench_audit_peer.py --shallot .build/release/shallot --gpt2 ../shared/data/gpt2

## Regenerate the reference fixtures (needs torch + transformers).
reference:
	python3 Scripts/make_reference.py

clean:
	rm -rf .build runs
