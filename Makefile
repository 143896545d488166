# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned so a plain install does not pull several GB of CUDA packages on CI;
# override for a GPU machine, e.g. `make test TORCH_SPEC="torch==2.13.0"` from the CUDA index.
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo_output

.PHONY: setup lint test demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[train,dev]"
	touch $@

setup: $(VENV)/.installed

lint: setup
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q

SHARED ?= ../shared/data
RS := $(BIN)/realtime-style

# The main job on the built-in default style: photos (../shared's when present, else a
# picture the project draws), a video with its audio (a ../shared clip when present, else
# a recording of the synthetic live scene), and the warping error with and without smoothing.
DEMO_CLIP ?= $(SHARED)/video/imageio_cockatoo.mp4
demo: setup
	@set -e; mkdir -p $(DEMO_OUT); \
	echo "demo: style '$$($(BIN)/python -c 'from realtime_style.models import registry; print(registry.default_name())')' (built in)"; \
	if [ -d $(SHARED)/images/content ]; then inputs=$(SHARED)/images/content; \
	else mkdir -p $(DEMO_OUT)/input && $(BIN)/python -c "import cv2,sys; from realtime_style.io.live_sources import SyntheticSource; cv2.imwrite(sys.argv[1], SyntheticSource((1280, 720)).render(45)[..., ::-1])" $(DEMO_OUT)/input/scene.png && inputs=$(DEMO_OUT)/input/scene.png; fi; \
	$(RS) image $$inputs -o $(DEMO_OUT)/stylized --overwrite; \
	$(RS) image $$inputs -o $(DEMO_OUT)/half_strength_colour --strength 0.6 --preserve-color --overwrite; \
	if [ -f $(DEMO_CLIP) ]; then clip=$(DEMO_CLIP); \
	else $(RS) live --source synthetic --headless --max-frames 150 --smooth 0 --record $(DEMO_OUT)/synthetic.mp4 --overwrite; clip=$(DEMO_OUT)/synthetic.mp4; fi; \
	$(RS) convert $$clip $(DEMO_OUT)/video_stylized.mp4 --overwrite; \
	$(RS) eval $$clip --max-frames 60; \
	echo "demo: results in $(DEMO_OUT)/ (stylized/, half_strength_colour/, video_stylized.mp4)"

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache *.egg-info
