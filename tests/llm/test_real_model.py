"""The real CPU default model through the transformers backend (marked llm: slow, ~500 MB).

Pulls ``qwen2.5-coder-0.5b-instruct`` if it is not cached yet (a no-op
otherwise), converts it once, and asks it for a factorial method.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from batos_core.jit.backends.transformers_backend import TransformersBackend
from batos_core.models.pull import pull

pytestmark = pytest.mark.llm

MODEL = "qwen2.5-coder-0.5b-instruct"
MESSAGES = [
    {
        "role": "system",
        "content": "You write one Python method. Reply with a single Python code block holding "
        "exactly one function definition. The method returns its result.",
    },
    {
        "role": "user",
        "content": "The receiver got the message factorial: with one argument, the int 5. "
        "Compute the factorial with a loop. Write the method with this header:\n"
        "def factorial_(self, n):",
    },
]


@pytest.fixture(scope="module")
def backend() -> TransformersBackend:
    pull(MODEL)
    loaded = TransformersBackend(MODEL, device="cpu")
    loaded.load()
    return loaded


def test_generates_a_working_factorial(backend: TransformersBackend) -> None:
    pieces: list[str] = []
    generation = backend.generate(MESSAGES, max_new_tokens=160, on_token=pieces.append)
    assert "".join(pieces) == generation.text
    assert not generation.text.lstrip().startswith(("system", "user", "You write"))
    fenced = re.search(r"```(?:python)?\n(.*?)```", generation.text, re.DOTALL)
    source = fenced.group(1) if fenced else generation.text
    namespace: dict[str, Any] = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # test-only: checks the model's code runs
    factorial: Callable[[object, int], int] = namespace["factorial_"]

    class Receiver:
        def factorial_(self, n: int) -> int:
            return factorial(self, n)

    assert factorial(Receiver(), 5) == 120, generation.text
    assert factorial(Receiver(), 0) == 1, generation.text


def test_greedy_decoding_repeats_itself(backend: TransformersBackend) -> None:
    first = backend.generate(MESSAGES, max_new_tokens=40)
    assert backend.generate(MESSAGES, max_new_tokens=40).text == first.text
    assert first.tokens == 40 or first.text.strip()
