# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned so a plain install does not pull several GB of CUDA packages on CI;
# override for a GPU machine, e.g. `make test TORCH_SPEC="torch==2.13.0"` from the CUDA index.
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo_output
# The demo needs only the runtime: its own venv, without torch (the train extra); `make test`
# installs everything into $(VENV).
DEMO_VENV ?= .venv-demo
DEMO_BIN := $(DEMO_VENV)/bin

.PHONY: setup lint test demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[train,dev,serve,ray]"
	touch $@

setup: $(VENV)/.installed

lint: setup
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q

SHARED ?= ../shared/data
RS := $(DEMO_BIN)/realtime-style

# The runtime alone (no torch), plus scikit-image for the contact sheet's public-domain/CC0 photos.
$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_BIN)/python -m pip install -q --upgrade pip
	$(DEMO_BIN)/python -m pip install -q -e . "scikit-image>=0.22"
	touch $@

# The main job on the built-in default style: photos (../shared's when present, else a
# picture the project draws), a video with its audio (a ../shared clip when present, else
# a recording of the synthetic live scene), the warping error with and without smoothing, and a
# contact sheet of every built-in on scikit-image's photos (never ../shared's).
DEMO_CLIP ?= $(SHARED)/video/imageio_cockatoo.mp4
demo: $(DEMO_VENV)/.installed
	@set -e; mkdir -p $(DEMO_OUT); \
	echo "demo: style '$$($(DEMO_BIN)/python -c 'from realtime_style.models import registry; print(registry.default_name())')' (built in), runtime only (no torch)"; \
	if [ -d $(SHARED)/images/content ]; then inputs=$(SHARED)/images/content; \
	else mkdir -p $(DEMO_OUT)/input && $(DEMO_BIN)/python -c "import cv2,sys; from realtime_style.io.live_sources import SyntheticSource; cv2.imwrite(sys.argv[1], SyntheticSource((1280, 720)).render(45)[..., ::-1])" $(DEMO_OUT)/input/scene.png && inputs=$(DEMO_OUT)/input/scene.png; fi; \
	$(RS) image $$inputs -o $(DEMO_OUT)/stylized --overwrite; \
	$(RS) image $$inputs -o $(DEMO_OUT)/half_strength_colour --strength 0.6 --preserve-color --overwrite; \
	if [ -f $(DEMO_CLIP) ]; then clip=$(DEMO_CLIP); \
	else $(RS) live --source synthetic --headless --max-frames 150 --smooth 0 --record $(DEMO_OUT)/synthetic.mp4 --overwrite; clip=$(DEMO_OUT)/synthetic.mp4; fi; \
	$(RS) convert $$clip $(DEMO_OUT)/video_stylized.mp4 --overwrite; \
	$(RS) eval $$clip --max-frames 60; \
	$(DEMO_BIN)/python benchmarks/builders/demo_sheet.py --out $(DEMO_OUT)/styles.jpg; \
	echo "demo: results in $(DEMO_OUT)/: styles.jpg (every built-in style), stylized/, half_strength_colour/, video_stylized.mp4"

clean:
	rm -rf $(VENV) $(DEMO_VENV) $(DEMO_OUT) .pytest_cache *.egg-info
