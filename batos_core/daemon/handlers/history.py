"""History, source and revert of methods: the change log, read and extended."""

from __future__ import annotations

import ormsgpack

from batos_core.daemon.context import HandlerContext
from batos_core.image import ObjectNotFound
from batos_core.methods.changelog import ChangeRecord, change_log, query
from batos_core.methods.install import install_method
from batos_core.objects import Method, UvmObject, format_oid, get_slot, has_slot
from batos_core.protocol.messages import (
    HistoryEntry,
    HistoryReply,
    HistoryRequest,
    RevertReply,
    RevertRequest,
    SourceReply,
    SourceRequest,
)
from batos_core.selectors import slot_name


class MethodNotFound(ObjectNotFound):
    """No method (or no such version) of that selector on that object."""


def handle_history(ctx: HandlerContext, request: HistoryRequest) -> HistoryReply:
    """Change-log records, newest first, filtered by target and selector.

    A page ends early (``more``) when its entries reach half the frame cap, so
    a long history with sources never becomes a reply too large to send.
    """
    target = name = ""
    if request.target:
        obj = ctx.session.resolve(request.target)
        target = format_oid(obj)
        name = request.target if not request.target.lower().startswith("0x") else ""
    selector = slot_name(request.selector) if request.selector else ""
    records = query(
        change_log(ctx.session.root),
        target=target,
        target_name=name or target,
        selector=selector,
        limit=request.limit,
        before_seq=request.before_seq,
    )
    budget = ctx.config.max_frame_bytes // 2
    entries: list[HistoryEntry] = []
    for record in records:
        entry = _entry(ctx, record, request.include_source)
        budget -= len(ormsgpack.packb(entry.model_dump()))
        if budget < 0 and entries:
            return HistoryReply(id=request.id, entries=entries, more=True)
        entries.append(entry)
    return HistoryReply(id=request.id, entries=entries)


def _entry(ctx: HandlerContext, record: ChangeRecord, include_source: bool) -> HistoryEntry:
    return HistoryEntry(
        seq=record.seq,
        action=record.action,
        time=record.time,
        target=record.target,
        target_name=record.target_name,
        selector=record.selector,
        version=record.version,
        # The prompt (kept for `batos dataset export`) is ~2 KB a record: left
        # out here so that a long history stays far below the frame cap.
        provenance=ctx.encode_map({k: v for k, v in record.provenance.items() if k != "prompt"}),
        source=record.source if include_source else "",
    )


def current_method(ctx: HandlerContext, target: str, selector: str) -> tuple[UvmObject, Method]:
    obj = ctx.session.resolve(target)
    name = slot_name(selector)
    value = get_slot(obj, name) if has_slot(obj, name) else None
    if not isinstance(value, Method):
        raise MethodNotFound(f"{target} has no method {selector!r}")
    return obj, value


def version_of(method: Method, version: int | None, target: str) -> Method:
    if version is None:
        return method
    for candidate in method.versions():
        if candidate.version == version:
            return candidate
    raise MethodNotFound(
        f"{target} has no version {version} of {method.selector!r} (versions 1..{method.version})"
    )


def handle_source(ctx: HandlerContext, request: SourceRequest) -> SourceReply:
    """The source of the current (or a given) version of a method, with provenance."""
    obj, method = current_method(ctx, request.target, request.selector)
    chosen = version_of(method, request.version, request.target)
    return SourceReply(
        id=request.id,
        target=format_oid(obj),
        selector=chosen.selector,
        version=chosen.version,
        source=chosen.source,
        provenance=ctx.encode_map(dict(chosen.provenance)),
    )


def handle_revert(ctx: HandlerContext, request: RevertRequest) -> RevertReply:
    """A new version whose source is an old one's; history keeps both."""
    obj, method = current_method(ctx, request.target, request.selector)
    old = version_of(method, request.version, request.target)
    provenance = dict(old.provenance)
    provenance.update({"reverted_from": method.version, "reverted_to": old.version, "author": "user"})
    version = install_method(
        ctx.session,
        obj,
        method.selector,
        old.source,
        provenance,
        action="revert",
    )
    return RevertReply(id=request.id, version=version)
