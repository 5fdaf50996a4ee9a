"""How a UI failure reaches the user: one message, the offending line, what to do next."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_UI_FAILED = 1
EXIT_USAGE = 2
EXIT_DAEMON_UNAVAILABLE = 3  # the CLI's ExitStatus.DAEMON_UNAVAILABLE

FALLBACK_HINT = "the hand-written inspector still works: batos ui --fallback"


@dataclass
class UiError(Exception):
    """The UI could not be shown. ``line``/``line_text`` point into the UI's source."""

    message: str
    line: int | None = None
    line_text: str = ""
    where: str = ""
    hint: str = FALLBACK_HINT
    exit_status: int = EXIT_UI_FAILED

    def __str__(self) -> str:
        return self.message

    def render(self) -> str:
        """The report for stderr: ``batos ui: <message>``, the line, then the hint."""
        lines = [f"batos ui: {self.message}"]
        if self.line is not None:
            location = f"{self.where}, line {self.line}" if self.where else f"line {self.line}"
            lines.append(f"  at {location}:")
            if self.line_text:
                lines.append(f"    {self.line_text.strip()}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines) + "\n"
