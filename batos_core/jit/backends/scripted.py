"""A backend that answers from a queue of predetermined replies (for tests).

Adversarial and end-to-end tests drive a real daemon with it: each
``generate`` pops the next scripted reply, streams it in word-sized pieces
(checking ``cancel`` between them, like a real model) and records the call.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from batos_core.jit.backends.base import (
    BackendError,
    Generation,
    Message,
    TokenCallback,
    check_cancel,
)

# A "token" here is a word with the whitespace before it, so joining the
# pieces gives back the reply exactly.
_PIECE = re.compile(r"\s*\S+|\s+")


class ScriptExhausted(BackendError):
    """``generate`` was called more times than there are scripted replies."""


@dataclass(frozen=True)
class ScriptedCall:
    """One recorded ``generate`` call, for assertions in tests."""

    messages: tuple[Message, ...]
    temperature: float
    max_new_tokens: int
    selector: str | None
    seed: int | None = None


class ScriptedBackend:
    """Replies with ``outputs`` in order; thread-safe."""

    name = "scripted"

    def __init__(
        self, outputs: Iterable[str], model_id: str = "scripted", *, seconds_per_piece: float = 0.0
    ) -> None:
        self.model_id = model_id
        #: How long each piece takes, like a model's pace (tests of cancelling need one).
        self.seconds_per_piece = seconds_per_piece
        self._outputs: deque[str] = deque(outputs)
        self._lock = threading.Lock()
        self.calls: list[ScriptedCall] = []

    def load(self) -> None:
        """Nothing to load."""

    @property
    def remaining(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._outputs)

    def push(self, output: str) -> None:
        """Append one more reply to the script."""
        with self._lock:
            self._outputs.append(output)

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
        """Return the next scripted reply, cut to ``max_new_tokens`` pieces
        (``stopped_at_cap`` when that cut it: a model that never ended its turn).

        Raises ``ScriptExhausted`` when the script is used up and
        ``GenerationCancelled`` when ``cancel`` is set between pieces.
        """
        started = time.perf_counter()
        with self._lock:
            self.calls.append(
                ScriptedCall(tuple(dict(m) for m in messages), temperature, max_new_tokens, selector, seed)
            )
            if not self._outputs:
                raise ScriptExhausted(f"no scripted reply left for call {len(self.calls)}")
            reply = self._outputs.popleft()
        every_piece = _PIECE.findall(reply)
        pieces = every_piece[:max_new_tokens]
        text = ""
        for piece in pieces:
            check_cancel(cancel, text)
            if self.seconds_per_piece > 0:
                if cancel is not None:
                    cancel.wait(self.seconds_per_piece)
                    check_cancel(cancel, text)
                else:
                    time.sleep(self.seconds_per_piece)
            text += piece
            if on_token is not None:
                on_token(piece)
        return Generation(
            text,
            len(pieces),
            time.perf_counter() - started,
            self.model_id,
            self.name,
            stopped_at_cap=len(every_piece) > max_new_tokens,
        )
