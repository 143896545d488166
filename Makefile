# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned so a plain install does not pull several GB of CUDA packages on CI;
# override for a GPU machine, e.g. `make test TORCH_SPEC="torch==2.13.0"` from the CUDA index.
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo_output

.PHONY: setup test demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[train,dev]"
	touch $@

setup: $(VENV)/.installed

test: setup
	$(BIN)/python -m pytest -q

SHARED ?= ../shared/data
RS := $(BIN)/realtime-style

# The main job on the built-in default style. Until built-in styles ship, the demo imports
# the ml5 `wave` teacher from $(SHARED) when it is there (research data, never committed).
demo: setup
	@if [ -n "$$($(RS) models list --json | grep '"builtin": true')" ]; then \
	  echo "demo: using the built-in default style"; style=""; \
	elif $(RS) models info wave >/dev/null 2>&1; then \
	  echo "demo: no built-in styles yet; using the imported style 'wave'"; style="--style wave"; \
	elif [ -d $(SHARED)/teachers/ml5/wave ]; then \
	  echo "demo: no built-in styles yet; importing the ml5 'wave' teacher from $(SHARED)"; \
	  $(RS) models import $(SHARED)/teachers/ml5/wave --name wave || exit 1; style="--style wave"; \
	else \
	  echo "demo: no built-in styles yet and no $(SHARED); import one: realtime-style models import PATH --name NAME" >&2; exit 1; \
	fi; \
	if [ -d $(SHARED)/images/content ]; then inputs=$(SHARED)/images/content; \
	else mkdir -p $(DEMO_OUT)/input && $(BIN)/python -c "import cv2,sys; from realtime_style.testcard import card_image; cv2.imwrite(sys.argv[1], card_image(360, 640)[..., ::-1])" $(DEMO_OUT)/input/card.png && inputs=$(DEMO_OUT)/input/card.png; fi; \
	$(RS) image $$inputs -o $(DEMO_OUT)/stylized $$style --overwrite && \
	$(RS) image $$inputs -o $(DEMO_OUT)/half_strength_colour $$style --strength 0.6 --preserve-color --overwrite && \
	echo "demo: results in $(DEMO_OUT)/stylized and $(DEMO_OUT)/half_strength_colour"

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache *.egg-info
