"""Where a UI can be drawn, and the environment Kivy must see before it is imported.

Standard library only: the CLI imports this to decide, before spawning the UI
process, whether a window can open at all. Kivy reads its settings from the
environment at import time, so the UI process calls :func:`prepare` first.

Offscreen rendering (tests, CI, ``--screenshot`` without a display) uses SDL's
``offscreen`` video driver with Mesa's software OpenGL (llvmpipe); on Debian
that needs the packages libgl1, libegl1, libgl1-mesa-dri (and libmtdev1 to
silence Kivy's input probe). No X server is involved.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

OFFSCREEN_DRIVER = "offscreen"
HOW_TO_VIEW = (
    "no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset): "
    "render it to a file with `batos ui --screenshot ui.png`, or run it under a virtual "
    "X server with `xvfb-run batos ui`"
)


def has_display(env: MutableMapping[str, str] | None = None) -> bool:
    """Whether a window can be shown: a display server, or an SDL driver chosen explicitly."""
    env = os.environ if env is None else env
    if sys.platform in ("darwin", "win32"):
        return True
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"))


def use_offscreen(env: MutableMapping[str, str]) -> None:
    """Render without a display: SDL's offscreen driver and Mesa's software GL."""
    env["SDL_VIDEODRIVER"] = OFFSCREEN_DRIVER
    env.setdefault("LIBGL_ALWAYS_SOFTWARE", "1")


def prepare(env: MutableMapping[str, str], *, offscreen: bool) -> None:
    """Set what Kivy reads at import: ours is the command line, Python logging is ours.

    ``offscreen`` forces offscreen rendering even where a display exists
    (screenshots must not depend on the user's desktop).
    """
    env["KIVY_NO_ARGS"] = "1"  # Kivy would otherwise parse (and reject) our argv
    env.setdefault("KIVY_NO_CONSOLELOG", "1")
    env.setdefault("KIVY_LOG_MODE", "PYTHON")  # leave the root logger to us
    if offscreen:
        use_offscreen(env)
