"""llama.cpp's C log, routed into Python ``logging`` instead of the daemon's stderr.

llama.cpp (and ggml under it) logs through one process-wide callback.
llama-cpp-python's own prints to stderr; ``route_llama_log`` replaces it
with one that hands each complete line to the ``llama.cpp`` logger at
DEBUG (model loading, context set-up, warnings about benign things such as
a context shorter than the model's training context). Its error lines are
also kept, so that a failed load or decode can say why in the backend's own
one-line error (``recent_errors``). ``llama_cpp`` is imported only by
``route_llama_log``, which the llamacpp backend calls when it loads.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading
from typing import Any

log = logging.getLogger("llama.cpp")

# enum ggml_log_level (ggml.h of the llama.cpp llama-cpp-python 0.3.x vendors; its
# own _logger.py still has an older order): NONE 0, DEBUG 1, INFO 2, WARN 3,
# ERROR 4, CONT 5 (continues the last line).
# Everything goes to DEBUG: llama.cpp's errors reach the user inside the
# backend's own one-line error (``recent_errors``), not as extra log lines.
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.DEBUG, 3: logging.DEBUG, 4: logging.DEBUG}
_CONT = 5
_ERROR = 4

_lock = threading.Lock()
_installed: Any = None  # the ctypes callback: must stay referenced while C may call it


class _Pending:
    """The line being assembled (llama.cpp may log one line in several calls)."""

    level = 1
    text = ""


_errors: collections.deque[str] = collections.deque(maxlen=8)


def route_llama_log() -> None:
    """Install the routing callback (idempotent). Needs ``llama_cpp`` importable."""
    global _installed
    import llama_cpp

    with _lock:
        if _installed is not None:
            return
        callback = llama_cpp.llama_log_callback(_on_log)
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        _installed = callback


def recent_errors() -> list[str]:
    """The last error lines llama.cpp logged (oldest first)."""
    with _lock:
        return list(_errors)


def clear_errors() -> None:
    """Forget the error lines logged so far (before an operation that may fail)."""
    with _lock:
        _errors.clear()


def _on_log(level: int, text: bytes, user_data: Any) -> None:
    # Called from C (with the GIL held): must never raise.
    try:
        with _lock:
            if level != _CONT:
                _Pending.level = level
            _Pending.text += text.decode("utf-8", errors="replace")
            if not _Pending.text.endswith("\n"):
                return
            line, _Pending.text = _Pending.text.rstrip(), ""
            current = _Pending.level
            if current == _ERROR and line:
                _errors.append(line)
        if line:
            log.log(_LEVELS.get(current, logging.DEBUG), "%s", line)
    except Exception:  # an exception cannot cross into C
        return
