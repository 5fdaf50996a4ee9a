"""Object references: a lobby name, or an oid written ``0x1a`` or ``1a``.

Resolution order for a bare word: a lobby slot of that name wins; otherwise, if
it is hexadecimal, it is an oid. ``0x``-prefixed text is always an oid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from batos_core.image.errors import BadReference

_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class Ref:
    """A parsed reference: exactly one of `name` and `oid` is set (both for ambiguous hex words)."""

    text: str
    name: str | None = None
    oid: int | None = None


def parse_ref(text: str) -> Ref:
    """Parse ``0x1a``, ``1a`` or a lobby name; BadReference for anything else."""
    raw = text.strip()
    if not raw:
        raise BadReference("empty object reference (expected a lobby name or an oid like 0x1a)")
    lowered = raw.lower()
    if lowered.startswith("0x"):
        digits = raw[2:]
        if not digits or not _HEX.fullmatch(digits):
            raise BadReference(f"bad oid {raw!r}: expected hex digits after 0x")
        return Ref(raw, oid=int(digits, 16))
    is_hex = bool(_HEX.fullmatch(raw))
    is_name = raw.isidentifier() and raw.isascii() and not raw.startswith("_")
    if is_name:
        return Ref(raw, name=raw, oid=int(raw, 16) if is_hex else None)
    if is_hex:
        return Ref(raw, oid=int(raw, 16))
    raise BadReference(
        f"bad object reference {raw!r}: expected a lobby name (e.g. genesis) or an oid (0x1a or 1a)"
    )


def oid_bytes(oid: int) -> bytes:
    """ZODB's 8-byte oid for an integer oid."""
    if oid < 0 or oid >= 1 << 64:
        raise BadReference(f"oid out of range: {oid:#x}")
    return oid.to_bytes(8, "big")
