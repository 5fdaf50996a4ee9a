"""Run a real UVM daemon for the GUI tests: ``python tests/gui/run_daemon.py <daemon args>``.

INTERIM, to be deleted once the daemon handles ``source_request`` itself (the
history/source/revert handlers are being written in ``batos_core/daemon``):
until then this registers a minimal read-only handler for it, so that the UI
launcher's real path (``source_request`` for ``display_yourself``) is what
the tests exercise. When the daemon has its own handler, this adds nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from batos_core.daemon.handlers import HANDLERS, register
from batos_core.daemon.lifecycle import main


def handle_source_interim(ctx: Any, request: Any) -> Any:
    """The current source of a Method found by lookup (no versions, no change log)."""
    from batos_core.objects import Method, format_oid
    from batos_core.objects.uvm_object import lookup
    from batos_core.protocol.messages.methods import SourceReply
    from batos_core.selectors import slot_name

    target = ctx.session.resolve(request.target)
    found = lookup(target, slot_name(request.selector))
    method = found.value
    if not isinstance(method, Method):
        raise TypeError(f"{request.selector} of {request.target} is a data slot, not a method")
    return SourceReply(
        id=request.id,
        target=format_oid(found.holder),
        selector=method.selector,
        version=method.version,
        source=method.source,
        provenance=ctx.encode(dict(method.provenance)),
    )


if "source_request" not in HANDLERS:
    register("source_request", handle_source_interim)

if __name__ == "__main__":
    sys.exit(main())
