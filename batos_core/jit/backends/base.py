"""The one interface every model backend implements, and its result and errors.

A backend turns chat messages into text. It loads its model lazily (on the
first ``generate`` or an explicit ``load``), exactly once, never at import.
``generate`` blocks: the daemon calls it from a worker thread, outside any
transaction, and keeps serving meanwhile. Tokens stream through ``on_token``;
``cancel`` is checked between tokens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

Message = dict[str, str]
TokenCallback = Callable[[str], None]


@dataclass(frozen=True)
class Generation:
    """What one ``generate`` call produced.

    ``text`` holds only the newly generated text (never the prompt);
    ``tokens`` counts the new tokens (for remote servers, the streamed chunks
    unless the server reported usage); ``seconds`` is the wall time of the
    call including a lazy load. ``stopped_at_cap``: the reply ended because
    it reached ``max_new_tokens``, not at the model's end of turn (so it is
    probably cut off); backends that cannot tell leave it False.
    """

    text: str
    tokens: int
    seconds: float
    model_id: str
    backend: str
    stopped_at_cap: bool = False

    @property
    def tokens_per_second(self) -> float:
        """New tokens per wall-clock second (0.0 for an instant reply)."""
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Serving:
    """What serves a backend's generations, for ``batos daemon status``.

    ``engine``: the inference engine and its version (``llama.cpp
    (llama-cpp-python 0.3.36)``); ``quantization``: the weights' format
    (``Q4_K_M``; empty when unknown); ``load_seconds``: None until loaded.
    """

    engine: str
    quantization: str = ""
    load_seconds: float | None = None


def serving_of(backend: Backend) -> Serving:
    """``backend.serving`` where the backend describes itself, else just its name."""
    described = getattr(backend, "serving", None)
    return described if isinstance(described, Serving) else Serving(engine=backend.name)


class BackendError(Exception):
    """A backend could not produce a generation (load failure, server error...)."""


class BadModelFile(BackendError):
    """A model file that cannot be served; the message is ``PATH: problem`` on one line."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class GenerationCancelled(BackendError):
    """``cancel`` was set while generating; ``partial`` is the text so far."""

    def __init__(self, partial: str) -> None:
        super().__init__("generation cancelled")
        self.partial = partial


@runtime_checkable
class Backend(Protocol):
    """A source of generated text; see the module docstring for the contract."""

    name: str
    model_id: str

    def load(self) -> None:
        """Load the model now (idempotent). Raises ``BackendError`` on failure."""
        ...

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
        selector: str | None = None,
        prefill: str = "",
        seed: int | None = None,
    ) -> Generation:
        """Continue the chat with one assistant reply.

        Greedy at ``temperature == 0``, sampling above. ``selector`` (the
        Python-form selector being compiled) is a hint only the replay
        backend needs; others ignore it. ``prefill``: text the reply must
        start with (the UI prompt's skeleton). A backend that can continue a
        partial reply (llamacpp, transformers) generates after it and returns
        ``prefill + continuation`` as ``text``; the others ignore it and return
        their whole reply, so ``text`` is always the complete reply. ``seed``:
        the sampler's seed when ``temperature > 0``, so the same seed and
        prompt give the same text on the same backend (None: any seed).
        Raises ``GenerationCancelled`` when ``cancel`` is set, ``BackendError``
        for every other failure.
        """
        ...


def check_cancel(cancel: threading.Event | None, partial: str) -> None:
    """Raise ``GenerationCancelled`` if ``cancel`` is set (shared by backends)."""
    if cancel is not None and cancel.is_set():
        raise GenerationCancelled(partial)
