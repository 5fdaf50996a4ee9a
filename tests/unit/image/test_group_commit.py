"""Group commit: a transaction ends once its data (and what it could read) is on disk; fsyncs are shared."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import transaction
import ZODB
from persistent.mapping import PersistentMapping
from ZODB.FileStorage import FileStorage

from batos_core.image import open_image
from batos_core.image.group_commit import (
    EXIT_FSYNC_FAILED,
    DiskDebt,
    DurableReplies,
    GroupCommitFileStorage,
    before_disk_waits,
    defer_durability,
    settle_durability,
)
from batos_core.image.image import Session
from batos_core.image_format import MIGRATIONS


class RecordingFsync:
    """An fsync that records the file's size when it ran, optionally slowed or held."""

    def __init__(self, path: Path, delay: float = 0.0) -> None:
        self.path = path
        self.delay = delay
        self.sizes: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def __call__(self, fd: int) -> None:
        self.entered.set()
        self.release.wait(10)
        if self.delay:
            time.sleep(self.delay)
        os.fsync(fd)
        self.sizes.append(os.fstat(fd).st_size)


@pytest.fixture
def make_db(tmp_path: Path) -> Iterator[Callable[..., tuple[ZODB.DB, GroupCommitFileStorage]]]:
    opened: list[ZODB.DB] = []

    def make(**options: Any) -> tuple[ZODB.DB, GroupCommitFileStorage]:
        storage = GroupCommitFileStorage(str(tmp_path / "data.fs"), **options)
        db = ZODB.DB(storage)
        opened.append(db)
        return db, storage

    yield make
    for db in opened:
        db.close()


def _body(function: Callable[..., object], drop: Callable[[str], bool]) -> list[str]:
    """The statements of `function` (comments and docstrings gone), without those `drop` matches."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef)
    statements = [ast.unparse(node) for node in definition.body if not isinstance(node, ast.Expr)]
    return [s for s in statements if not drop(s)]


def test_finish_is_zodbs_own_without_the_fsync() -> None:
    # If a ZODB upgrade changes FileStorage._finish_finish, this fails rather
    # than group commit silently dropping what the new version does.
    theirs = _body(FileStorage._finish_finish, lambda s: "fsync" in s)
    ours = _body(GroupCommitFileStorage._finish_finish, lambda s: s == "self._finished += 1")
    assert ours == theirs


def test_a_commit_returns_once_its_data_is_on_disk(
    make_db: Callable[..., tuple[ZODB.DB, GroupCommitFileStorage]], tmp_path: Path
) -> None:
    fsync = RecordingFsync(tmp_path / "data.fs")
    db, storage = make_db(fsync=fsync)
    session = Session(db)
    for counter in range(5):
        session.root["counter"] = counter
        session.commit()
        # An fsync ran after the whole transaction was written.
        assert fsync.sizes and fsync.sizes[-1] == (tmp_path / "data.fs").stat().st_size
    assert storage.fsyncs == len(fsync.sizes) >= 5
    session.close()


def test_a_thread_about_to_wait_for_the_disk_is_told_how_long_fsyncs_take(
    make_db: Callable[..., tuple[ZODB.DB, GroupCommitFileStorage]], tmp_path: Path
) -> None:
    db, storage = make_db(fsync=RecordingFsync(tmp_path / "data.fs", delay=0.02))
    session = Session(db)
    told: list[float] = []
    before_disk_waits(told.append)
    try:
        for counter in range(4):
            session.root["counter"] = counter
            session.commit()
        assert len(told) == 4  # once per commit, before its wait
        assert told[0] == 0.0  # nothing measured yet
        assert told[-1] > 0.005 and storage.fsync_s > told[-1]  # the slow fsyncs, averaged
        session.root["counter"]  # a read-only transaction with nothing left to make durable
        session.abort()
        assert len(told) == 4
    finally:
        before_disk_waits(None)
        session.close()
    session = Session(db)  # the hook removed: nothing is told
    session.root["counter"] = 9
    session.commit()
    assert len(told) == 4
    session.close()


def test_a_thread_that_defers_owes_the_wait_and_settles_it_before_answering(
    make_db: Callable[..., tuple[ZODB.DB, GroupCommitFileStorage]], tmp_path: Path
) -> None:
    fsync = RecordingFsync(tmp_path / "data.fs")
    db, storage = make_db(fsync=fsync)
    session = Session(db)
    debt = DiskDebt()
    defer_durability(debt)
    try:
        fsyncs = storage.fsyncs
        for counter in range(3):
            session.root["counter"] = counter
            session.commit()  # returns before the disk has it
        assert storage.fsyncs == fsyncs and not storage.all_durable()
        assert debt  # the thread owes it
        session.root["counter"]  # a read-only transaction owes the same, nothing more
        session.abort()
        settle_durability()  # what a sender does first
        assert storage.all_durable() and not debt
        assert storage.fsyncs == fsyncs + 1  # three commits, one fsync
        assert fsync.sizes[-1] == (tmp_path / "data.fs").stat().st_size
        settle_durability()  # nothing owed: nothing to do
        assert storage.fsyncs == fsyncs + 1
    finally:
        defer_durability(None)
    session.root["counter"] = 9  # the thread waits again
    session.commit()
    assert storage.all_durable()
    session.close()


def test_a_debt_taken_to_another_thread_is_settled_there(
    make_db: Callable[..., tuple[ZODB.DB, GroupCommitFileStorage]],
) -> None:
    db, storage = make_db()
    session = Session(db)
    debt = DiskDebt()
    defer_durability(debt)
    try:
        session.root["counter"] = 1
        session.commit()
        owed = debt.take()
    finally:
        defer_durability(None)
    assert owed == [storage] and not debt and not storage.all_durable()
    settler = threading.Thread(target=lambda: [each.wait_durable() for each in owed])
    settler.start()
    settler.join(10)
    assert storage.all_durable()
    session.close()


def test_concurrent_commits_share_fsyncs(
    make_db: Callable[..., tuple[ZODB.DB, GroupCommitFileStorage]], tmp_path: Path
) -> None:
    fsync = RecordingFsync(tmp_path / "data.fs", delay=0.01)  # a slow disk: commits pile up
    db, storage = make_db(fsync=fsync)
    with Session(db) as setup:
        for i in range(6):
            setup.root[f"obj{i}"] = PersistentMapping(counter=0)
        setup.commit()
    commits_per_thread = 10
    durable_after_commit: list[bool] = []
    mine = threading.local()  # how many transactions had finished when this thread's did
    original = storage._finish_finish

    def finish(tid: bytes) -> None:
        original(tid)
        mine.finished = storage._finished

    storage._finish_finish = finish  # type: ignore[method-assign]

    def writer(index: int) -> None:
        with Session(db) as session:
            obj = session.root[f"obj{index}"]
            for _ in range(commits_per_thread):
                obj["counter"] += 1
                session.commit()
                durable_after_commit.append(storage._durable >= mine.finished)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    before = storage.fsyncs
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    commits = 6 * commits_per_thread
    assert len(durable_after_commit) == commits and all(durable_after_commit)
    assert storage.fsyncs - before < commits  # grouped: fewer fsyncs than commits
    with Session(db) as check:
        assert [check.root[f"obj{i}"]["counter"] for i in range(6)] == [commits_per_thread] * 6


def test_a_reader_ends_only_after_what_it_could_see_is_durable(
    make_db: Callable[..., tuple[ZODB.DB, GroupCommitFileStorage]], tmp_path: Path
) -> None:
    fsync = RecordingFsync(tmp_path / "data.fs")
    db, _storage = make_db(fsync=fsync)
    writer, reader = Session(db), Session(db)
    fsync.release.clear()  # the disk "hangs" until released
    fsync.entered.clear()

    def write() -> None:
        writer.root["value"] = "new"
        writer.commit()

    committing = threading.Thread(target=write)
    committing.start()
    assert fsync.entered.wait(10)  # finished in the storage, fsync under way
    reader.transaction_manager.begin()  # a new view: it includes the finished commit
    assert reader.root.get("value") == "new"  # already visible to another connection...
    ending = threading.Thread(target=reader.abort)
    ending.start()
    ending.join(0.3)
    assert ending.is_alive()  # ...but the reader cannot answer from it yet
    fsync.release.set()
    ending.join(10)
    committing.join(10)
    assert not ending.is_alive() and not committing.is_alive()
    writer.close()
    reader.close()


def test_a_failed_fsync_is_reported_and_nothing_counts_as_durable(
    make_db: Callable[..., tuple[ZODB.DB, GroupCommitFileStorage]],
) -> None:
    failures: list[BaseException] = []
    broken = [False]

    def fsync(fd: int) -> None:
        if broken[0]:
            raise OSError(5, "Input/output error")
        os.fsync(fd)

    db, storage = make_db(fsync=fsync, on_fsync_failure=failures.append)
    session = Session(db)
    session.root["ok"] = 1
    session.commit()
    durable = storage._durable
    broken[0] = True
    session.root["lost"] = 1
    with pytest.raises(OSError, match="Input/output error"):
        session.commit()
    assert [type(e) for e in failures] == [OSError]
    assert storage._durable == durable
    broken[0] = False
    session.abort()


def test_by_default_a_failed_fsync_exits_the_process(tmp_path: Path) -> None:
    script = f"""
import os, transaction, ZODB
from batos_core.image.group_commit import GroupCommitFileStorage
def fsync(fd):
    raise OSError(5, "Input/output error")
db = ZODB.DB(GroupCommitFileStorage({str(tmp_path / "x.fs")!r}, fsync=os.fsync))
db.storage._fsync = fsync
conn = db.open()
conn.root()["x"] = 1
transaction.commit()  # the default manager has no DurableReplies: wait by hand
db.storage.wait_durable()
print("still running")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_FSYNC_FAILED, done.stderr
    assert "still running" not in done.stdout
    assert "fsync of the image failed" in done.stderr


def test_close_makes_unwaited_transactions_durable(tmp_path: Path) -> None:
    fsync = RecordingFsync(tmp_path / "data.fs")
    storage = GroupCommitFileStorage(str(tmp_path / "data.fs"), fsync=fsync)
    db = ZODB.DB(storage)  # creates the root in a transaction nobody waits on
    tm = transaction.TransactionManager()  # no DurableReplies either
    conn = db.open(tm)
    conn.root()["x"] = 1
    tm.commit()
    assert fsync.sizes == []
    conn.close()
    db.close()
    assert fsync.sizes == [(tmp_path / "data.fs").stat().st_size]


def test_images_use_it_and_sessions_wait(tmp_path: Path) -> None:
    image = open_image(tmp_path / "image.fs", migrations=MIGRATIONS)
    try:
        assert isinstance(image.db.storage, GroupCommitFileStorage)
        session = image.session()
        assert isinstance(session._durable, DurableReplies)
        before = image.db.storage.fsyncs
        session.root["x"] = 1
        session.commit()
        assert image.db.storage.fsyncs == before + 1
        session.close()
    finally:
        image.close()
    read_only = open_image(tmp_path / "image.fs", read_only=True, migrations=MIGRATIONS)
    try:
        assert type(read_only.db.storage) is FileStorage
    finally:
        read_only.close()
