"""Live view of a request's progress events (JIT phases, tokens as they stream)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from batos_cli.env import Environment


class EventView:
    """Shows `event` messages on stderr while a request runs; silent if none arrive."""

    def __init__(self, env: Environment, *, enabled: bool = True) -> None:
        self.env = env
        self.enabled = enabled
        self.started = time.monotonic()
        self.phase = ""
        self.tokens = 0
        self.text = ""
        self._live: Any = None

    def __enter__(self) -> EventView:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def on_event(self, message: dict[str, Any]) -> None:
        if not self.enabled:
            return
        kind = message.get("kind", "")
        data = message.get("data") or {}
        if kind == "phase":
            self.phase = str(data.get("phase", ""))
            detail = data.get("detail")
            if detail and self._live is None:
                self.env.notice(f"{self.phase}: {detail}")
        elif kind == "token":
            self.tokens += 1
            self.text += str(data.get("text", ""))
        elif kind == "log":
            self.env.notice(str(data.get("message", "")))
        self._refresh()

    def _refresh(self) -> None:
        from rich.live import Live
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        lines = self.text.splitlines()[-12:]
        body = Text(f"{self.phase or 'working'}  {self.tokens} tokens  {elapsed:.1f} s\n", style="bold")
        body.append("\n".join(lines), style="dim")
        if self._live is None:
            self._live = Live(body, console=self.env.err, transient=True, refresh_per_second=8)
            self._live.start()
        else:
            self._live.update(body)
