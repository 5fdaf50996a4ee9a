"""The llamacpp backend on a real GGUF: the catalog's tiny smollm2-135m-instruct.

Everything goes through llama-cpp-python and the real model file; the raw
``llama_cpp.Llama`` calls of the same loaded model are the reference.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from batos_core.jit.backends import BackendError, GenerationCancelled
from batos_core.jit.backends.base import BadModelFile
from batos_core.jit.backends.llamacpp_backend import (
    PROMPT_CHUNK,
    LlamaCppBackend,
    engine_version,
    physical_cores,
)

ASK = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Write a Python function that adds two numbers."},
]
SHORT = [{"role": "user", "content": "Reply with just the word yes."}]


@pytest.fixture(scope="module")
def smollm(smollm_gguf: Path) -> LlamaCppBackend:
    """One loaded backend for the module (loading is cheap, but once is enough).

    One thread: ggml's threads wait for each other spinning, so on a CPU
    shared with other work two threads ran 3-15x slower than one here.
    """
    backend = LlamaCppBackend(str(smollm_gguf), n_threads=1)
    backend.load()
    return backend


def test_loading_is_lazy_happens_once_and_says_what_serves(smollm_gguf: Path) -> None:
    backend = LlamaCppBackend("smollm2-135m-instruct")  # a catalog name resolves to the cached GGUF
    assert not backend.loaded and backend.runtime is None
    before = backend.serving
    assert before.engine == engine_version() and before.engine.startswith("llama.cpp (llama-cpp-python 0.3.")
    assert before.quantization == "Q4_1" and before.load_seconds is None
    backend.load()
    first = backend.runtime
    backend.load()
    assert backend.runtime is first and backend.loaded
    assert backend.serving.load_seconds is not None and backend.serving.load_seconds < 30
    assert first.model_path == str(smollm_gguf)
    assert backend.n_threads == physical_cores() >= 1
    assert first.n_ctx() >= 4096


def test_threads_can_be_configured(smollm: LlamaCppBackend) -> None:
    assert smollm.n_threads == 1 and smollm.runtime.n_threads == 1
    assert smollm.runtime.n_threads_batch == 1


def test_streams_every_piece_and_matches_raw_llama_cpp(smollm: LlamaCppBackend) -> None:
    pieces: list[str] = []
    generation = smollm.generate(ASK, max_new_tokens=48, on_token=pieces.append)
    assert len(pieces) > 10 and "".join(pieces) == generation.text
    assert generation.tokens == 48 and generation.stopped_at_cap
    assert generation.backend == "llamacpp" and generation.model_id == smollm.model_id
    raw = smollm.runtime.create_chat_completion(ASK, max_tokens=48, temperature=0.0)
    assert raw["choices"][0]["message"]["content"] == generation.text
    assert raw["usage"]["completion_tokens"] == generation.tokens


def test_stops_at_the_end_of_turn(smollm: LlamaCppBackend) -> None:
    generation = smollm.generate(SHORT, max_new_tokens=200)
    assert not generation.stopped_at_cap and 0 < generation.tokens < 200
    assert "<|im_end|>" not in generation.text and "<|im_start|>" not in generation.text
    raw = smollm.runtime.create_chat_completion(SHORT, max_tokens=200, temperature=0.0)
    assert raw["choices"][0]["finish_reason"] == "stop"
    assert raw["choices"][0]["message"]["content"] == generation.text


def test_a_reply_cut_at_the_cap_says_so(smollm: LlamaCppBackend) -> None:
    generation = smollm.generate(ASK, max_new_tokens=5)
    assert generation.tokens == 5 and generation.stopped_at_cap


def test_greedy_is_deterministic_with_and_without_the_cached_prefix(smollm: LlamaCppBackend) -> None:
    first = smollm.generate(ASK, max_new_tokens=30).text
    again = smollm.generate(ASK, max_new_tokens=30).text  # the whole prompt is cached now
    smollm.runtime.reset()
    cold = smollm.generate(ASK, max_new_tokens=30).text
    assert first == again == cold


def test_the_same_seed_gives_the_same_text(smollm: LlamaCppBackend) -> None:
    def sample(seed: int) -> str:
        return smollm.generate(ASK, max_new_tokens=30, temperature=1.0, seed=seed).text

    assert sample(7) == sample(7)
    assert len({sample(seed) for seed in (1, 2, 3, 4)}) > 1  # the seed does reach the sampler


def test_prefill_is_continued_as_a_raw_completion(smollm: LlamaCppBackend) -> None:
    prefill = "def add(a, b):\n    return"
    pieces: list[str] = []
    generation = smollm.generate(ASK, max_new_tokens=12, prefill=prefill, on_token=pieces.append)
    assert pieces[0] == prefill and "".join(pieces) == generation.text
    assert generation.text.startswith(prefill) and len(generation.text) > len(prefill)
    raw = smollm.runtime.create_completion(_tokens(smollm, ASK, prefill), max_tokens=12, temperature=0.0)
    assert prefill + raw["choices"][0]["text"] == generation.text


def _tokens(backend: LlamaCppBackend, messages: list[dict[str, str]], prefill: str = "") -> list[int]:
    """The prompt's tokens as llama-cpp-python's own chat handler would make them."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm = backend.runtime
    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=llm.detokenize([llm.token_eos()], special=True).decode(),
        bos_token=llm.detokenize([llm.token_bos()], special=True).decode(),
    )
    prompt = str(formatter(messages=messages).prompt) + prefill  # type: ignore[arg-type]
    return list(llm.tokenize(prompt.encode(), add_bos=False, special=True))


def test_a_shared_prompt_prefix_is_not_evaluated_again(
    smollm: LlamaCppBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = smollm.runtime
    evaluated: list[int] = []
    real_eval = llm.eval

    def counting_eval(tokens: Any) -> None:
        evaluated.append(len(tokens))
        real_eval(tokens)

    monkeypatch.setattr(llm, "eval", counting_eval)
    smollm.generate(ASK, max_new_tokens=4)
    cached = llm.input_ids[: llm.n_tokens].tolist()
    repair = [
        *ASK,
        {"role": "assistant", "content": "def add(a, b): return a - b"},
        {"role": "user", "content": "That subtracts. Fix it."},
    ]
    evaluated.clear()
    smollm.generate(repair, max_new_tokens=4)
    first, second = _tokens(smollm, ASK), _tokens(smollm, repair)
    common = llm.longest_token_prefix(cached, second[:-1])
    assert common >= len(first) - 1  # the whole first prompt is reused...
    assert sum(evaluated) == len(second) - common + 3  # ...only the rest and 3 new tokens are evaluated


def test_cancel_stops_within_a_second(smollm: LlamaCppBackend) -> None:
    cancel = threading.Event()
    set_at: list[float] = []

    def on_token(piece: str) -> None:
        if not set_at:
            set_at.append(time.perf_counter())
            cancel.set()

    with pytest.raises(GenerationCancelled) as raised:
        smollm.generate(ASK, max_new_tokens=500, on_token=on_token, cancel=cancel)
    assert time.perf_counter() - set_at[0] < 1.0
    assert raised.value.partial and len(raised.value.partial) < 40
    with pytest.raises(GenerationCancelled):
        smollm.generate(ASK, max_new_tokens=5, cancel=cancel)  # already set: nothing runs
    assert smollm.generate(ASK, max_new_tokens=3).tokens == 3  # and the backend still serves


def test_cancel_is_honoured_between_prompt_chunks(smollm: LlamaCppBackend) -> None:
    long = [{"role": "user", "content": "word " * (PROMPT_CHUNK * 6) + "Count the words."}]
    llm = smollm.runtime
    llm.reset()
    cancel = threading.Event()
    real_eval = llm.eval

    def eval_then_cancel(tokens: Any) -> None:
        real_eval(tokens)
        cancel.set()  # as if the client cancelled while the first chunk was evaluated

    llm.eval = eval_then_cancel
    try:
        with pytest.raises(GenerationCancelled):
            smollm.generate(long, max_new_tokens=5, cancel=cancel)
    finally:
        del llm.eval
    assert llm.n_tokens == PROMPT_CHUNK  # one chunk, not the whole prompt
    assert smollm.generate(SHORT, max_new_tokens=3).tokens > 0


def test_a_prompt_longer_than_the_context_is_an_error(smollm_gguf: Path) -> None:
    backend = LlamaCppBackend(str(smollm_gguf), n_ctx=256, n_threads=1)
    with pytest.raises(BackendError, match=r"the prompt has \d+ tokens, the context only 256"):
        backend.generate([{"role": "user", "content": "word " * 400}], max_new_tokens=5)


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("truncated", r"truncated: its tensors need 98362432 bytes, the file has 49181216"),
        ("not_gguf", r"not a GGUF file \(it starts with b'this', not b'GGUF'\)"),
        ("unknown_architecture", r"llama\.cpp \(llama-cpp-python .*\) does not support its architecture 'batosnet'"),  # noqa: E501
    ],
)
def test_bad_model_files_fail_in_one_line_naming_the_file(
    bad_ggufs: dict[str, Path], kind: str, problem: str
) -> None:
    path = bad_ggufs[kind]
    backend = LlamaCppBackend(str(path))
    with pytest.raises(BadModelFile) as raised:
        backend.load()
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert raised.value.path == str(path)
    assert re.fullmatch(problem, raised.value.problem), message
    assert not backend.loaded
    with pytest.raises(BadModelFile):  # a generate loads, and fails the same way
        backend.generate(SHORT, max_new_tokens=3)


def test_a_missing_gguf_path_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(BadModelFile, match=f"^{missing}: no such file$"):
        LlamaCppBackend(str(missing)).load()
