"""Installing a method: a new version in its holder's slot and its change-log record, together.

Every writer of methods goes through `install_method` (the JIT's install, a
``create_method_request``, a revert), so that no version reaches the image
without its record. The caller owns the transaction: the method and its
record commit, or abort, as one.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Protocol

from batos_core.methods.changelog import change_log
from batos_core.objects import Method, UvmObject, format_oid, get_slot, has_slot, set_slot, slot_items


class ImageView(Protocol):
    """What installing needs of an image session: its root (the change log) and its lobby (names)."""

    @property
    def root(self) -> MutableMapping[str, Any]: ...

    @property
    def lobby(self) -> UvmObject: ...


def install_method(
    session: ImageView,
    holder: UvmObject,
    selector: str,
    source: str,
    provenance: dict[str, Any],
    *,
    action: str,
) -> int:
    """Install `source` as a new version of `selector` on `holder` and log it as
    `action`; returns the version. The caller commits.

    The source is not compiled here (callers check it first). Errors of
    `set_slot` (InvalidSlotName, ConstantSlotError) propagate, and ValueError
    for an action the change log does not know.
    """
    previous = get_slot(holder, selector) if has_slot(holder, selector) else None
    method = Method(selector, source, provenance, previous=previous if isinstance(previous, Method) else None)
    set_slot(holder, selector, method)
    change_log(session.root).append(
        action,
        target=format_oid(holder) if holder._p_oid else "new",
        target_name=lobby_name(session.lobby, holder) or "",
        selector=selector,
        version=method.version,
        source=source,
        provenance=dict(method.provenance),
    )
    return method.version


def lobby_name(lobby: UvmObject, obj: UvmObject) -> str | None:
    """The lobby slot naming `obj` (parent slots aside), or None."""
    for name, value in slot_items(lobby):
        if value is obj and not name.endswith("*"):
            return name
    return None
