"""Where the REPL keeps its input history (one file per user, shared by images)."""

from __future__ import annotations

from pathlib import Path

HISTORY_FILE = "repl_history"


def history_path() -> Path:
    """``$BATOS_STATE_DIR/repl_history``, else the platformdirs user state dir.

    Creates the directory (0700) if needed; raises OSError if it cannot.
    """
    from batos_core.places import state_dir

    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory / HISTORY_FILE
