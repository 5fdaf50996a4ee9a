"""Installing methods written in Self: ordinary Methods with Self provenance.

A Self method is compiled to Python source (`selfsyntax.compiler`) and kept
as a `Method` like any other: versioned (`previous`), logged in the change
log when its holder is stored, run restricted. Its provenance says
``language: self`` and keeps the Self source (``self_source``) and selector
(``self_selector``), which `batos source`, ``??`` and the JIT's snapshot show.
"""

from __future__ import annotations

from typing import Any

from batos_core.objects import Method, UvmObject, format_oid, get_slot, has_slot, set_slot, slot_items

LANGUAGE = "self"


def install_self_method(
    holder: UvmObject,
    selector: str,
    source: str,
    self_selector: str,
    self_source: str,
    *,
    author: str,
    root: Any = None,
) -> Method:
    """Install `source` (compiled from `self_source`) as the new version of
    `selector` on `holder`; logged in `root`'s change log when there is one
    (or the holder's own database root when it is stored). The caller commits.
    """
    previous = get_slot(holder, selector) if has_slot(holder, selector) else None
    provenance = {
        "author": author,
        "language": LANGUAGE,
        "self_selector": self_selector,
        "self_source": self_source,
    }
    method = Method(selector, source, provenance, previous=previous if isinstance(previous, Method) else None)
    set_slot(holder, selector, method)
    _log(holder, method, root)
    return method


def _log(holder: UvmObject, method: Method, root: Any) -> None:
    from batos_core.methods.changelog import LOG_KEY, change_log

    jar = getattr(holder, "_p_jar", None)
    if root is None and jar is not None:
        root = jar.root()
    if root is None or LOG_KEY not in root:
        return
    lobby = root.get("lobby")
    name = ""
    if isinstance(lobby, UvmObject):
        name = next((k for k, v in slot_items(lobby) if v is holder and not k.endswith("*")), "")
    change_log(root).append(
        "install",
        target=format_oid(holder),
        target_name=name,
        selector=method.selector,
        version=method.version,
        source=method.source,
        provenance=dict(method.provenance),
    )


def self_source(method: Method) -> str | None:
    """The Self source a Method was compiled from, or None for a Python method."""
    if method.provenance.get("language") != LANGUAGE:
        return None
    text = method.provenance.get("self_source")
    return text if isinstance(text, str) else None
