# vqnb: every set-up step a fresh Debian machine needs lives here.
#   make run    the main job (creates .venv, installs, runs)
#   make test   sync checks + every notebook's tests (what CI runs)
#   make lab    JupyterLab on the workspace, the audio window inspector's notebook open
#   make bench  benchmarks against the peer libraries
#   make results  snapshot each experiment's latest finished default run into docs/results/ and render the README's tables
#   make ui     the MLflow UI on the tracked runs (runs/mlflow.db), at http://127.0.0.1:5000 (PORT=... to change)
#   make gpu-smoke  DDP + NCCL + bfloat16 training on every visible GPU (not part of make test)
#   make sync   export the library, clean the notebooks, render README.md (before a commit)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages the corpora need (speech synthesis, MIDI rendering, texts); then Chromium for the inspector's browser
# test and npm to fetch the widget JavaScript of offline reports (when no npm is on the machine): without root those two
# are optional (the browser test reports itself skipped), except under CI or VQNB_REQUIRE_BROWSER=1.
APT_PACKAGES := espeak-ng fluidsynth fluid-soundfont-gm fortunes
BROWSER_PACKAGES := chromium $(if $(shell command -v npm),,npm)
# Jupyter refuses to run as root without --allow-root
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
WIDGET_JS := .cache/widget-js

.PHONY: run test lab bench sync outputs sysdeps install clean-venv gpu-smoke ui results

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install whenever pyproject.toml changes; the stamp file records the last install.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev,bench]"
	touch $@

install: sysdeps $(VENV)/.installed $(WIDGET_JS)/.complete

# require.js, the widget renderer and anywidget from the npm registry (pinned in the script), for reports that draw
# saved widgets offline (vqnb.runner.offline_html_exporter); git-ignored.
$(WIDGET_JS)/.complete: tools/vendor_js.sh | sysdeps
	bash tools/vendor_js.sh $(WIDGET_JS)

sysdeps:
	@bash tools/sysdeps.sh $(APT_PACKAGES)
	@bash tools/sysdeps.sh --optional $(BROWSER_PACKAGES)

# --resume: an experiment whose latest run finished is not redone; one that was killed continues from its checkpoint.
run: install
	$(BIN)/vqnb data build --size default
	$(BIN)/vqnb run --all --resume
	@echo "Reports: runs/<experiment>/<time>/ (open the .html); list them with .venv/bin/vqnb runs"

test: install
	$(BIN)/python tools/test_notebooks.py

# Bring the library and README in line with the notebooks, and strip the notebooks, before a commit.
sync: $(VENV)/.installed
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	$(BIN)/python tools/readme.py

# Re-execute the component notebooks and save their outputs (figures) into them, then sync.
# Experiment notebooks are committed without outputs: their results live in runs/ and the README.
outputs: $(VENV)/.installed
	for nb in nbs/*.ipynb; do MPLBACKEND=Agg $(BIN)/nbdev-test --save $$nb || exit 1; done
	$(MAKE) sync

# Train a residual VQ and the document RQ-VAE for a few steps under torchrun on every visible GPU (NCCL, bfloat16
# autocast) and check the codebooks are identical on all ranks. On CPU: .venv/bin/python tools/gpu_smoke.py --backend gloo --device cpu --nproc 2
gpu-smoke: $(VENV)/.installed
	$(BIN)/python tools/gpu_smoke.py

# The audio window inspector: open the printed address
# with /lab/tree/nbs/_inspector_demo.ipynb in place of /lab.
lab: install
	@echo "The audio window inspector: nbs/_inspector_demo.ipynb (address: .../lab/tree/nbs/_inspector_demo.ipynb?token=...)"
	$(BIN)/jupyter lab --notebook-dir=. --no-browser $(ALLOW_ROOT) nbs/_inspector_demo.ipynb

# The README's result tables are rendered from docs/results/EXPERIMENT.json (committed), written here from runs/.
results: $(VENV)/.installed
	$(BIN)/vqnb runs --snapshot
	$(BIN)/python tools/readme.py

# Every `vqnb run` (and the Trainer runs inside it) is tracked in runs/mlflow.db, artifacts in runs/mlartifacts/; the UI
# reads that store (no tracking server), on this machine only. `vqnb runs --compare EXPERIMENT` prints the same runs.
PORT ?= 5000
ui: $(VENV)/.installed
	@mkdir -p runs
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/runs/mlflow.db --artifacts-destination $(CURDIR)/runs/mlartifacts --host 127.0.0.1 --port $(PORT) --workers 1

bench: sysdeps $(VENV)/.installed-bench
	$(BIN)/python bench/quantize.py
	$(BIN)/python bench/pooling.py
	$(BIN)/python bench/pqvae.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/codecs.py --bytes 4 8
	$(BIN)/python bench/codecs.py --bytes 4 8 16 --train default --report codecs-default
	$(BIN)/python bench/codecs.py --corpus rqvae-windows --bytes 4 8 16 --skip LSQ PQ-VAE fit_codebooks --report codecs-rqvae-windows
	$(BIN)/python bench/index.py

clean-venv:
	rm -rf $(VENV)
