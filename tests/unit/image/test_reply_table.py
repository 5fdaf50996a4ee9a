"""The exactly-once reply table: its entries, pruning, the locks a store takes, and migrations 6
(from the tuple format) and 8 (from the BTree)."""

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
from batos_core.world.reply_table import TABLE_KEY, ReplyBuckets, ReplyTable


def test_stored_replies_survive_reopening_and_pruning_keeps_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "image.fs"
    with open_image(path, migrations=MIGRATIONS) as img, img.session() as session:
        assert isinstance(session.root[TABLE_KEY], ReplyBuckets)
        for i in range(40):
            reply_table.store_reply(session.root, f"id-{i:02d}", {"type": "send_reply", "id": f"id-{i:02d}"})
        session.commit()
    with open_image(path, migrations=MIGRATIONS) as img, img.session() as session:
        assert reply_table.stored_reply(session.root, "id-07") == {"type": "send_reply", "id": "id-07"}
        assert reply_table.stored_reply(session.root, "missing") is None
        assert reply_table.prune(session.root, 10) == 30
        session.commit()
        kept = sorted(session.root[TABLE_KEY].keys())
    assert kept == [f"id-{i:02d}" for i in range(30, 40)]


def _rewound_image(path: Path, table: object, format_version: int) -> None:
    """A current image at `path`, rewound to `format_version` with `table` as its reply table."""
    with open_image(path, migrations=MIGRATIONS):
        pass
    db = ZODB.DB(ZODB.FileStorage.FileStorage(str(path)))
    conn = db.open()
    root = conn.root()
    root[TABLE_KEY] = table
    root[META_KEY].format_version = format_version
    transaction.commit()
    conn.close()
    db.close()


def test_migration_6_repacks_a_tuple_table_and_keeps_its_replies(tmp_path: Path) -> None:
    path = tmp_path / "image.fs"
    # The image rewound to format 5 with the old table: an OOBTree of (time, msgpack) tuples.
    import ormsgpack

    old = OOBTree()
    old["old-1"] = (1000.0, ormsgpack.packb({"type": "send_reply", "id": "old-1", "result": 7}))
    _rewound_image(path, old, 5)

    with open_image(path, migrations=MIGRATIONS) as img, img.session() as session:
        table = session.root[TABLE_KEY]
        assert isinstance(table, ReplyBuckets)  # migration 6 made a ReplyTable, 8 spread it
        expected = {"type": "send_reply", "id": "old-1", "result": 7}
        assert reply_table.stored_reply(session.root, "old-1") == expected
        assert reply_table.stored_at(table["old-1"]) == 1000.0
        assert session.meta.format_version >= 6  # later migrations run too


def test_a_store_writes_one_bucket_and_reads_nothing_current(tmp_path: Path) -> None:
    # A BTree calls readCurrent on its nodes above the bucket it writes; on RelStorage
    # (PostgreSQL) those became shared locks that deadlocked against the locks of the
    # objects a request writes, once the tree had inner nodes. The table takes none.
    with open_image(tmp_path / "image.fs", migrations=MIGRATIONS) as img, img.session() as session:
        for i in range(3000):  # a BTree of 16-entry buckets has inner nodes long before this
            reply_table.store_reply(session.root, f"{i:032x}", {"type": "send_reply"})
        session.commit()
        reply_table.store_reply(session.root, "f" * 32, {"type": "send_reply"})
        connection = session.connection
        assert connection._readCurrent == {}
        assert [type(o).__name__ for o in connection._registered_objects] == ["OOBucket"]
        session.commit()


def test_migration_8_spreads_the_btree_table_and_keeps_its_replies(tmp_path: Path) -> None:
    path = tmp_path / "image.fs"
    old = ReplyTable()
    for i in range(100):
        old[f"id-{i:03d}"] = reply_table._STAMP.pack(1000.0 + i) + reply_table.ormsgpack.packb({"n": i})
    _rewound_image(path, old, 7)

    with open_image(path, migrations=MIGRATIONS) as img, img.session() as session:
        table = session.root[TABLE_KEY]
        assert isinstance(table, ReplyBuckets)
        assert len(table) == 100
        assert reply_table.stored_reply(session.root, "id-042") == {"n": 42}
        assert reply_table.stored_at(table["id-099"]) == 1099.0
        assert session.meta.format_version >= 8
