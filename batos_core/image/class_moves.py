"""Persistent classes that moved to another module since images were written.

A ZODB record names its class by module and name, and so does every
reference to it. When a persistent class moves, images written before still
name its old place; `find_class`, the image database's class factory, reads
those at the new one. A record written again names the new place; an entry
stays as long as images written before its move may be opened.
"""

from __future__ import annotations

from typing import Any

from ZODB.broken import find_global

#: (old module, old name) -> (module, name) now.
MOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("batos_core.jit.changelog", "ChangeLog"): ("batos_core.methods.changelog", "ChangeLog"),
    ("batos_core.daemon.reply_table", "ReplyTable"): ("batos_core.world.reply_table", "ReplyTable"),
}


def find_class(connection: object, module: str, name: str) -> Any:
    """The class a record names, at its place now (ZODB's ``class_factory``).

    A class that cannot be imported comes back as ZODB's Broken stand-in, as
    with ZODB's default factory.
    """
    module, name = MOVED.get((module, name), (module, name))
    return find_global(module, name)
