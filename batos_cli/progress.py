"""Live view of a request's progress events (JIT phases, tokens as they stream).

The JIT's ``phase`` events this view reads beyond ``phase`` itself
(``batos_core.jit.pipeline``): ``generating`` carries ``candidate`` and
``candidates`` (candidate i of K; its tokens follow), ``candidate`` carries
its ``verdict`` (``passed``, ``did nothing``, ``vet failed``, ``trial
failed``), its ``group`` and a failure's ``reason``, ``writing checks`` is
followed by the checks' tokens, and ``chosen`` names the winning
``candidate`` and the ``groups``' sizes.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from batos_cli.env import Environment


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


_SHOWN_LINES = 12
_SHOWN_VERDICTS = 8


class EventView:
    """Shows `event` messages on stderr while a request runs; silent if none arrive."""

    def __init__(self, env: Environment, *, enabled: bool = True) -> None:
        self.env = env
        self.enabled = enabled
        self.started = time.monotonic()
        self.phase = ""
        self.tokens = 0
        self.text = ""
        self.candidate = ""  # "candidate 2 of 4" while one is being written
        self.verdicts: list[str] = []
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
            self._on_phase(data)
        elif kind == "token":
            self.tokens += 1
            self.text += str(data.get("text", ""))
        elif kind == "log":
            self.env.notice(str(data.get("message", "")))
        self._refresh()

    def _on_phase(self, data: dict[str, Any]) -> None:
        phase = str(data.get("phase", ""))
        if phase == "candidate":
            self.verdicts.append(verdict_line(data))
            return  # the phase shown stays what was being done
        self.phase = phase
        if phase == "generating" and "candidate" in data:
            self.text = ""  # each candidate streams on its own
            total = int(data.get("candidates") or 1)
            attempt = int(data.get("attempt") or 1)
            if attempt > 1:
                self.candidate = f"repair {attempt - 1} (candidate {data['candidate']})"
            elif total > 1:
                self.candidate = f"candidate {data['candidate']} of {total}"
        elif phase == "writing checks":
            self.text, self.candidate = "", ""  # the checks stream on their own
        elif phase == "chosen":
            self.verdicts.append(chosen_line(data))
            if int(data.get("generated") or 1) > 1:  # kept on screen after the live view goes
                self.env.notice(escape(chosen_line(data)))
        detail = data.get("detail")
        if detail and self._live is None:
            self.env.notice(f"{self.phase}: {detail}")

    def body(self) -> Any:
        """What the live region shows now (a rich Text)."""
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        which = f"  {self.candidate}" if self.candidate else ""
        body = Text(
            f"{self.phase or 'working'}{which}  {self.tokens} tokens  {elapsed:.1f} s\n", style="bold"
        )
        for line in self.verdicts[-_SHOWN_VERDICTS:]:
            body.append(line + "\n")
        body.append("\n".join(self.text.splitlines()[-_SHOWN_LINES:]), style="dim")
        return body

    def _refresh(self) -> None:
        from rich.live import Live

        body = self.body()
        if self._live is None:
            self._live = Live(body, console=self.env.err, transient=True, refresh_per_second=8)
            self._live.start()
        else:
            self._live.update(body)


def verdict_line(data: dict[str, Any]) -> str:
    """One candidate's verdict: ``candidate 2: passed, group 1 (3 alike)``."""
    text = f"candidate {data.get('candidate', '?')}: {data.get('verdict', '?')}"
    if data.get("group") is not None:
        text += f", group {data['group']} ({data.get('group_size', 1)} alike)"
    reason = str(data.get("reason") or "")
    if reason:
        text += f": {reason.splitlines()[0][:80]}"
    return text


def chosen_line(data: dict[str, Any]) -> str:
    """Which candidate won: ``chose candidate 2 (groups 1+3, checks 2/3)``."""
    groups = "+".join(str(size) for size in data.get("groups") or [])
    checks = f", checks {data.get('checks_passed', 0)}/{data['checks']}" if data.get("checks") else ""
    written = f" of {data['generated']}" if data.get("generated") else ""
    return f"chose candidate {data.get('candidate', '?')}{written} (groups {groups}{checks})"
