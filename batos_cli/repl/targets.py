"""Which object a piece of REPL text names, without evaluating it.

Completion and introspection (``x?``) need an object reference the daemon
can resolve (a lobby name or an oid). Simple receivers are mapped here on
the client: a REPL variable holding an object, a lobby name, ``self`` (the
lobby) or an ``@1a`` reference. Anything else would need evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_OID_TEXT = re.compile(r"@(?:0[xX])?([0-9a-fA-F]+)")


def ref_oid(value: Any) -> str | None:
    """The oid of a wire ``$ref`` value, else None."""
    if isinstance(value, dict) and isinstance(value.get("$ref"), str):
        return str(value["$ref"])
    return None


def receiver_target(text: str, variables: Mapping[str, Any]) -> str | None:
    """An object reference for `text`, or None if `text` is not a simple receiver.

    A variable holding a plain value (a number, a string) is None too: the
    daemon's completion answers for objects only.
    """
    text = text.strip()
    if text in variables:
        return ref_oid(variables[text])
    if text == "self":
        return "lobby"
    if text.isidentifier() and text not in ("nil", "true", "false"):
        return text
    match = _OID_TEXT.fullmatch(text)
    if match:
        return "0x" + match.group(1).lower()
    return None
