"""All of the CLI's I/O goes through an Environment, so tests run `main()` in-process."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class Environment:
    """Where output goes and what the terminal can do."""

    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    width: int | None = None
    _out: Any = None
    _err: Any = None

    @property
    def out(self) -> Console:
        if self._out is None:
            from rich.console import Console

            self._out = Console(file=self.stdout, width=self.width, highlight=False, soft_wrap=True)
        return self._out  # type: ignore[no-any-return]

    @property
    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            self._err = Console(file=self.stderr, width=self.width, highlight=False, soft_wrap=True)
        return self._err  # type: ignore[no-any-return]

    def notice(self, text: str) -> None:
        """A one-line note on stderr (e.g. that the daemon was started)."""
        self.err.print(f"[dim]batos: {text}[/dim]", markup=True, highlight=False)

    @property
    def interactive(self) -> bool:
        return bool(getattr(self.stdin, "isatty", lambda: False)()) and bool(
            getattr(self.stdout, "isatty", lambda: False)()
        )


_current = Environment()


def current() -> Environment:
    return _current


def use(env: Environment) -> None:
    """Install `env` for the next `main()` call (tests)."""
    global _current
    _current = env
