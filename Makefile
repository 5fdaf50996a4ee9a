# batos — developer entry points. `make demo` runs the main job, `make test` the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.batos-installed
PYTEST_ARGS ?=

.PHONY: install test test-all test-llm lint bench demo completions builders clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	# compat mode: a .pth path entry instead of an import hook (the hook costs
	# tens of ms on every `batos` start).
	@$(PY) -c "import llama_cpp" 2>/dev/null || echo "batos: llama-cpp-python (the CPU engine) is a source package: its first install compiles llama.cpp, about 6 minutes on 2 cores; pip caches the wheel after that."
	$(PY) -m pip install -q -e '.[dev,llm,ui,world]' --config-settings editable_mode=compat
	# Bytecode for the source tree, as a wheel install would have: with
	# PYTHONDONTWRITEBYTECODE set, every `batos` start would recompile it (~40 ms).
	$(PY) -m compileall -q batos_core batos_cli >/dev/null
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -m "not llm" $(PYTEST_ARGS)

test-llm: $(STAMP)
	$(PY) -m pytest -m llm $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check batos_core batos_cli tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The main job: the model writes the UI. With no display, the window is
# rendered offscreen to batos-ui.png instead.
demo: $(STAMP)
	$(VENV)/bin/batos model pull
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(VENV)/bin/batos send genesis display_yourself; \
	else \
		$(VENV)/bin/batos send genesis display_yourself --screenshot batos-ui.png; \
	fi

completions: $(STAMP)
	$(PY) -m batos_cli.completions_gen completions

# batos_core/protocol/builders.py from the request models (a test keeps it current).
builders: $(STAMP)
	$(PY) -m batos_core.protocol.builders_gen

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
