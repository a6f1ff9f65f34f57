# The two commands of the README, and what they need. Each target installs what is missing.
SHELL := /bin/bash
SWIFT ?= swift
RUN_DIR ?= runs/demo

.PHONY: run test deps build bench reference clean

## The main job. Until `shallot study` lands: train a small GPT on the embedded sample, then sample from it.
run: deps build
	.build/release/shallot train --embedded-sample --out $(RUN_DIR) --layers 2 --heads 4 --dim 128 --context 128 --batch 8 --steps 300 --lr 1e-3
	.build/release/shallot generate --model $(RUN_DIR) --prompt "From: Dana Whitfield" --max-new 200 --temperature 0.7 --top-k 40 --seed 1

## The test suite (offline; fixtures are committed).
test: deps
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
