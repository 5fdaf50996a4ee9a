"""``--backend auto``: llama.cpp for a GGUF on a CPU, transformers for CUDA and hub models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batos_core.jit.backends import BackendConfig, BackendError, make_backend
from batos_core.jit.backends.engine_choice import choose_engine
from batos_core.jit.backends.llamacpp_backend import LlamaCppBackend
from batos_core.jit.backends.transformers_backend import TransformersBackend
from batos_core.jit.hook import backend_config
from batos_core.models.catalog import default_entry
from batos_core.models.engine_plan import is_gguf

ROOT = Path(__file__).parents[3]


def test_a_gguf_on_a_cpu_is_served_by_llama_cpp(smollm_gguf: Path) -> None:
    for model in (str(smollm_gguf), "smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct"):
        choice = choose_engine(model, "cpu")
        assert (choice.backend, choice.model) == ("llamacpp", model), choice
    default = choose_engine(None, "cpu")
    assert (default.backend, default.model) == ("llamacpp", default_entry("cpu").name)
    backend = make_backend(BackendConfig(backend="auto", model=str(smollm_gguf), device="cpu", n_threads=1))
    assert isinstance(backend, LlamaCppBackend) and backend.n_threads == 1


def test_hub_models_directories_and_cuda_go_to_transformers(smollm_gguf: Path, tmp_path: Path) -> None:
    for model in ("Qwen/Qwen2.5-0.5B", "llama-3.1-8b-instruct", str(tmp_path)):
        assert choose_engine(model, "cpu").backend == "transformers", model
    for device in ("cuda", "cuda:1"):
        choice = choose_engine(str(smollm_gguf), device)
        assert choice.backend == "transformers" and "CUDA" in choice.reason
    assert choose_engine(None, "cuda").model == default_entry("cuda").name
    explicit = make_backend(BackendConfig(backend="transformers", model=str(smollm_gguf), device="cpu"))
    assert isinstance(explicit, TransformersBackend)  # an explicit choice stays explicit


def test_what_counts_as_a_gguf(smollm_gguf: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "model.bin"
    renamed.symlink_to(smollm_gguf)
    assert is_gguf(str(renamed))  # by its magic
    assert is_gguf("/not/there/yet.gguf")  # by its name: loading will say it is missing
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert not is_gguf(str(text)) and not is_gguf("no-such-catalog-name")


def test_the_backend_named_with_its_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATOS_JIT_THREADS", "3")
    for name in ("auto", "llamacpp", "transformers"):
        config = backend_config(name, "m.gguf")
        assert (config.backend, config.model, config.n_threads) == (name, "m.gguf", 3)
    monkeypatch.setenv("BATOS_JIT_THREADS", "two")
    with pytest.raises(BackendError, match="BATOS_JIT_THREADS must be a whole number"):
        backend_config("auto")


def _run_blocked(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``import llama_cpp`` fails."""
    prelude = (
        "import sys, logging\n"
        "sys.modules['llama_cpp'] = None  # import llama_cpp now raises ImportError\n"
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", prelude + code]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)


def test_without_llama_cpp_auto_falls_back_to_transformers_saying_why_once(smollm_gguf: Path) -> None:
    result = _run_blocked(
        "from batos_core.jit.backends import make_backend\n"
        f"backend = make_backend({{'backend': 'auto', 'model': {str(smollm_gguf)!r}, 'device': 'cpu'}})\n"
        "print(type(backend).__name__, backend.model_id)\n"
        "heavy = {'torch', 'transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    assert result.stdout.split() == ["TransformersBackend", str(smollm_gguf)]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    warning = "WARNING batos_core.jit.backends.engine_choice: llama-cpp-python cannot be imported ("
    assert lines[0].startswith(warning)
    assert f"the transformers backend serves {smollm_gguf} instead" in lines[0]


def test_auto_on_a_cpu_imports_no_torch(smollm_gguf: Path) -> None:
    code = (
        "import sys\n"
        "from batos_core.jit.backends import make_backend\n"
        f"backend = make_backend({{'backend': 'auto', 'model': {str(smollm_gguf)!r}}})\n"
        "assert backend.name == 'llamacpp', backend.name\n"
        "heavy = {'torch', 'transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    if os.path.exists("/dev/nvidiactl"):
        pytest.skip("a machine with NVIDIA devices asks torch whether it sees them")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
