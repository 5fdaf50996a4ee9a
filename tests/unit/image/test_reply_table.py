"""The exactly-once reply table: its entries, pruning, and migration 6 from the tuple format."""

from __future__ import annotations

from pathlib import Path

import transaction
import ZODB
import ZODB.FileStorage
from BTrees.OOBTree import OOBTree

from batos_core.image import open_image
from batos_core.image.meta import META_KEY
from batos_core.image_format import MIGRATIONS
from batos_core.world import reply_table
from batos_core.world.reply_table import TABLE_KEY, ReplyTable


def test_stored_replies_survive_reopening_and_pruning_keeps_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "image.fs"
    with open_image(path, migrations=MIGRATIONS) as img, img.session() as session:
        assert isinstance(session.root[TABLE_KEY], ReplyTable)
        for i in range(40):  # more than one bucket of 16
            reply_table.store_reply(session.root, f"id-{i:02d}", {"type": "send_reply", "id": f"id-{i:02d}"})
        session.commit()
    with open_image(path, migrations=MIGRATIONS) as img, img.session() as session:
        assert reply_table.stored_reply(session.root, "id-07") == {"type": "send_reply", "id": "id-07"}
        assert reply_table.stored_reply(session.root, "missing") is None
        assert reply_table.prune(session.root, 10) == 30
        session.commit()
        kept = sorted(session.root[TABLE_KEY].keys())
    assert kept == [f"id-{i:02d}" for i in range(30, 40)]


def test_migration_6_repacks_a_tuple_table_and_keeps_its_replies(tmp_path: Path) -> None:
    path = tmp_path / "image.fs"
    with open_image(path, migrations=MIGRATIONS):
        pass
    # Rewind the image to format 5 with the old table: an OOBTree of (time, msgpack) tuples.
    import ormsgpack

    db = ZODB.DB(ZODB.FileStorage.FileStorage(str(path)))
    conn = db.open()
    root = conn.root()
    old = OOBTree()
    old["old-1"] = (1000.0, ormsgpack.packb({"type": "send_reply", "id": "old-1", "result": 7}))
    root[TABLE_KEY] = old
    root[META_KEY].format_version = 5
    transaction.commit()
    conn.close()
    db.close()

    with open_image(path, migrations=MIGRATIONS) as img, img.session() as session:
        table = session.root[TABLE_KEY]
        assert isinstance(table, ReplyTable)
        expected = {"type": "send_reply", "id": "old-1", "result": 7}
        assert reply_table.stored_reply(session.root, "old-1") == expected
        assert reply_table.stored_at(table["old-1"]) == 1000.0
        assert session.meta.format_version >= 6  # later migrations run too
