"""Run a real UVM daemon for the GUI tests: ``python tests/gui/run_daemon.py <daemon args>``."""

from __future__ import annotations

import sys

from batos_core.daemon.lifecycle import main

if __name__ == "__main__":
    sys.exit(main())
