"""The daemon's log: a private file whose every record is one line a client cannot forge.

The daemon logs what clients send: request ids, selectors, receiver names,
the messages of errors their code raised. A request id of
``"x\\n2026-01-01 00:00:00,000 ERROR forged"`` or one carrying terminal escape
codes must not become a second log line or recolour the reader's terminal.
`EscapingFormatter` escapes, with `printable`, every character of a
record's message that is not printable (newlines, tabs, ESC, other control
and format characters, Unicode line separators), the way ``repr`` would; it
does so at the one place every record passes, so no call site has to
remember. A traceback keeps its lines, each indented and escaped the same
way, so a record's continuation lines never start where a record does.

The log file is created 0600 in a directory created 0700
(`batos_core.private_files`), and an existing one is tightened to 0600.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from batos_core.private_files import make_private_dir, make_private_file

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_TRACEBACK_INDENT = "    "


def printable(text: str) -> str:
    """`text` with each non-printable character escaped as ``repr`` writes it (``\\n``, ``\\x1b``)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class EscapingFormatter(logging.Formatter):
    """A Formatter whose output has one line per record, plus indented traceback lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        text = super().formatException(ei)
        return "\n".join(_TRACEBACK_INDENT + printable(line) for line in text.splitlines())

    def formatStack(self, stack_info: str) -> str:
        return "\n".join(_TRACEBACK_INDENT + printable(line) for line in stack_info.splitlines())


def setup_logging(log_file: str | None, level: str) -> None:
    """Log to `log_file` (created private) or to stderr, through `EscapingFormatter`.

    Raises OSError if the log file or its directory cannot be created.
    """
    handler: logging.Handler
    if log_file:
        path = Path(log_file)
        make_private_dir(path.parent)
        make_private_file(path)
        handler = logging.FileHandler(path)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level.upper())
