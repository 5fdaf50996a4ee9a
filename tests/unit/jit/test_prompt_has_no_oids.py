"""Where the storage puts an object must not change what the model is asked.

Candidates are seeded by their index, so a prompt gives the same candidates
every time; one token of difference gives others. The reply table's 1024
buckets moved genesis's parent from oid 0xa to 0x40a, the prompt carried the
oid, and the demo's UI stopped passing (docs/jit.md). Here one world is made
twice, the second time after storing other objects first, so every oid moves.
"""

from __future__ import annotations

from pathlib import Path

import transaction
import ZODB
import ZODB.FileStorage
from persistent.mapping import PersistentMapping

from batos_core.image_format import MIGRATIONS
from batos_core.jit.pipeline import snapshot_of
from batos_core.jit.prompt import method_messages, ui_messages
from batos_core.objects import format_oid, print_string


def _prompts(path: Path, padding: int) -> tuple[str, str]:
    """The UI and method prompts for genesis in a world whose oids are shifted by `padding` objects."""
    db = ZODB.DB(ZODB.FileStorage.FileStorage(str(path)))
    manager = transaction.TransactionManager()
    conn = db.open(transaction_manager=manager)
    try:
        with manager:
            conn.root()["padding"] = [PersistentMapping() for _ in range(padding)]
        with manager:
            for _number, _title, migrate in MIGRATIONS:
                migrate(conn.root())
        genesis = conn.root()["lobby"].genesis
        snapshot = snapshot_of(genesis, "genesis")
        ui = "\n".join(m["content"] for m in ui_messages(snapshot))
        method = "\n".join(m["content"] for m in method_messages("greet:", snapshot, ["Ada"]))
        return ui, method
    finally:
        manager.abort()
        conn.close()
        db.close()


def test_the_prompts_are_the_same_wherever_the_objects_are_stored(tmp_path: Path) -> None:
    ui_a, method_a = _prompts(tmp_path / "a.fs", 0)
    ui_b, method_b = _prompts(tmp_path / "b.fs", 300)
    assert ui_a == ui_b
    assert method_a == method_b
    assert "0x" not in ui_a and "0x" not in method_a


def test_print_string_without_oids_names_no_object_by_oid() -> None:
    db = ZODB.DB(None)
    manager = transaction.TransactionManager()
    conn = db.open(transaction_manager=manager)
    try:
        with manager:
            for _number, _title, migrate in MIGRATIONS:
                migrate(conn.root())
        genesis = conn.root()["lobby"].genesis
        shown = print_string(genesis)
        assert format_oid(genesis) in shown  # what users see keeps the oids
        plain = print_string(genesis, oids=False)
        assert plain.startswith("a UvmObject (") and "0x" not in plain
        assert plain == "a UvmObject (parent*: an object)"
    finally:
        manager.abort()
        conn.close()
        db.close()
