# vizpipe: simulation output -> Blender/Maya assets -> frames -> movie.
# Every target creates the virtual environment it needs (.venv, from requirements.lock).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= out
WORKERS ?=
ENGINE ?=
RUNFLAGS := $(if $(ENGINE),--engine $(ENGINE)) $(if $(WORKERS),--workers $(WORKERS))
PYTEST := $(BIN)/python -m pytest

.PHONY: help venv test test-all mutants bench bench-check scaling check demo materials climate preview containers lock clean

help: ## show this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml setup.py $(wildcard core/_isokernel/*.[ch]) \
          $(wildcard materials_pipeline/_fastfloat/*.[ch]) $(wildcard climate_pipeline/_advect/*.[ch])
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found (bpy 5.0 needs Python 3.11)" >&2; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the pinned dependencies

test: $(STAMP) ## run the test suite (render tests with the real bpy wheel included)
	$(PYTEST) -m "not slow and not benchmark" -q

test-all: $(STAMP) ## run every test, slow ones included
	$(PYTEST) -m "not benchmark" -q

mutants: $(STAMP) ## prove the tests bite: each hand-made mutation (tests/mutants.py) must fail a test
	$(BIN)/python -m tests.mutants --logs $(OUT)/mutants

BIG_SIZE ?= 1GB
BENCH_CMD = VIZPIPE_BIG_SIZE=$(BIG_SIZE) VIZPIPE_BENCH_OUT=$(OUT) $(PYTEST) -m benchmark -q -p no:randomly --benchmark-columns=min,median,rounds \
	  --benchmark-json=$(OUT)/bench.json -o addopts="--strict-markers"
bench: $(STAMP) ## run the benchmarks and print the ratios against their references (BIG_SIZE=6GB: the scale check's file)
	mkdir -p $(OUT)
	$(BENCH_CMD)

bench-check: $(STAMP) ## the benchmarks, each NOT MET target a failure (for a quiet machine)
	mkdir -p $(OUT)
	VIZPIPE_BENCH_STRICT=1 $(BENCH_CMD)

SCALE_WORKERS ?= 1,2
SCALEFLAGS ?=
scaling: $(STAMP) ## workers SCALE_WORKERS (default 1,2; e.g. 1,2,4): speedup, efficiency, overhead per task
	$(BIN)/python -m vizpipe_app.scaling --workers $(SCALE_WORKERS) --out $(OUT)/scaling --json $(OUT)/scaling/scaling.json $(SCALEFLAGS)

check: $(STAMP) ## ruff + mypy + import-linter (imports point down only: apps -> pipelines | render -> core)
	$(BIN)/ruff check core render climate_pipeline materials_pipeline vizpipe_app tests
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: $(STAMP) ## build a small scene with the core writers, render stills and a movie
	$(BIN)/python -m vizpipe_app.demo $(OUT)/demo $(RUNFLAGS)
	$(BIN)/python -m render $(OUT)/demo $(RUNFLAGS)

INPUT ?=
MATFLAGS ?=
materials: $(STAMP) ## materials pipeline on INPUT=files/folders (default: PySCF water vibration)
	$(BIN)/python -m materials_pipeline $(if $(INPUT),$(INPUT) --out $(OUT)/materials/run,--default --out $(OUT)/materials/default) $(RUNFLAGS) $(MATFLAGS)

VAR ?=
CLIMFLAGS ?=
climate: $(STAMP) ## climate pipeline on INPUT=files VAR=name (default: PM10 episode over Iberia)
	$(BIN)/python -m climate_pipeline $(if $(INPUT),$(INPUT) --out $(OUT)/climate/run $(if $(VAR),--var $(VAR)),--default --out $(OUT)/climate/default --frames 16 --particles 3000) $(RUNFLAGS) $(CLIMFLAGS)

RUN ?=
PREVIEWFLAGS ?=
preview: $(STAMP) ## write RUN/preview/index.html, a run in the browser (RUN=out/materials/default; PREVIEWFLAGS=--serve)
	@test -n "$(RUN)" || { echo "error: make preview needs RUN=<run directory>, e.g. make preview RUN=$(OUT)/materials/default" >&2; exit 2; }
	$(BIN)/python -m render.preview $(RUN) $(PREVIEWFLAGS)

SIFFLAGS ?=
containers: ## build containers/pipeline.sif and containers/blender.sif (singularity or apptainer)
	@sing=$$(command -v singularity || command -v apptainer) || { echo "error: make containers needs singularity or apptainer on PATH and neither was found (recipes: containers/pipeline.def, containers/blender.def; see containers/README.md)" >&2; exit 1; }; \
	fakeroot=$$([ "$$(id -u)" = 0 ] || echo --fakeroot); \
	for img in pipeline blender; do \
	  echo "$$sing build $$fakeroot --force $(SIFFLAGS) containers/$$img.sif containers/$$img.def"; \
	  "$$sing" build $$fakeroot --force $(SIFFLAGS) containers/$$img.sif containers/$$img.def || exit 1; \
	done

lock: $(STAMP) ## rewrite requirements.lock from the current .venv
	{ echo "# Exact versions tested (pip freeze of .venv, Python 3.11, x86_64 Linux). Regenerate: make lock"; \
	  $(BIN)/python -m pip freeze --all | grep -E "^(setuptools|wheel)=="; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^vizpipe'; } > requirements.lock

clean: ## remove outputs and caches (keeps .venv)
	rm -rf $(OUT) .pytest_cache .benchmarks .mypy_cache .ruff_cache
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
