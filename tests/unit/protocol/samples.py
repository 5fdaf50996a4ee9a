"""One fixed example of every message type, shared by the golden and round-trip tests."""

from __future__ import annotations

from typing import Any

RID = "5f0c6a9e2b7d4e1f8a3c9d0b1e2f3a4b"

REQUESTS: dict[str, dict[str, Any]] = {
    "send_request": {
        "type": "send_request",
        "id": RID,
        "receiver": "genesis",
        "selector": "setSlot_value_",
        "args": ["balance", 100, 2.5, None, True, b"\x00\xff", [1, "a"], {"k": "v"}],
        "review": False,
    },
    "eval_request": {
        "type": "eval_request",
        "id": RID,
        "source": "x := genesis clone. x balance",
        "variables": {"y": {"$ref": "0x1a", "repr": "<account 0x1a>"}},
    },
    "inspect_request": {"type": "inspect_request", "id": RID, "target": "0x1a"},
    "get_full_state_request": {"type": "get_full_state_request", "id": RID, "target": "genesis"},
    "complete_request": {"type": "complete_request", "id": RID, "receiver": "", "prefix": "gen"},
    "create_method_request": {
        "type": "create_method_request",
        "id": RID,
        "target": "genesis",
        "selector": "double_",
        "source": "def double_(self, n):\n    return 2 * n\n",
        "provenance": {},
    },
    "history_request": {
        "type": "history_request",
        "id": RID,
        "target": "",
        "selector": "",
        "limit": 50,
        "include_source": False,
    },
    "source_request": {
        "type": "source_request",
        "id": RID,
        "target": "genesis",
        "selector": "double_",
        "version": None,
    },
    "revert_request": {
        "type": "revert_request",
        "id": RID,
        "target": "genesis",
        "selector": "double_",
        "version": 1,
    },
    "status_request": {"type": "status_request", "id": RID},
    "shutdown_request": {"type": "shutdown_request", "id": RID},
    "cem_request": {"type": "cem_request", "id": RID, "acts": 10},
    "autotelic_request": {"type": "autotelic_request", "id": RID, "action": "run_once"},
    "dataset_request": {"type": "dataset_request", "id": RID, "after_seq": 0, "limit": 100},
    "proposals_request": {"type": "proposals_request", "id": RID},
    "approve_request": {
        "type": "approve_request",
        "id": RID,
        "proposal": "3f2a9c0d",
        "approve": True,
        "approver": "ada",
    },
}

PROVENANCE = {"author": "llm", "model": "qwen2.5-coder-0.5b", "created": 1700000000.5}

DAEMON_MESSAGES: dict[str, dict[str, Any]] = {
    "send_reply": {"type": "send_reply", "id": RID, "result": {"$ref": "0x1a", "repr": "a"}},
    "eval_reply": {
        "type": "eval_reply",
        "id": RID,
        "result": 100,
        "variables": {"x": {"$repr": "<lambda>", "$type": "function"}},
    },
    "inspect_reply": {
        "type": "inspect_reply",
        "id": RID,
        "oid": "0x1a",
        "repr": "<genesis>",
        "slots": [
            {
                "name": "parent*",
                "kind": "parent",
                "value": {"$ref": "0x02", "repr": "traits"},
                "is_constant": True,
            },
            {"name": "balance", "kind": "data", "value": 100, "is_constant": False},
        ],
        "methods": [{"selector": "double_", "version": 2, "provenance": PROVENANCE}],
    },
    "get_full_state_reply": {
        "type": "get_full_state_reply",
        "id": RID,
        "state": {"balance": 100, "tags": {"$dict": {"$x": 1}}},
    },
    "complete_reply": {"type": "complete_reply", "id": RID, "selectors": ["genesis", "gen2"]},
    "create_method_reply": {"type": "create_method_reply", "id": RID, "version": 1},
    "history_reply": {
        "type": "history_reply",
        "id": RID,
        "entries": [
            {
                "seq": 7,
                "action": "install",
                "time": 1700000000.5,
                "target": "0x1a",
                "target_name": "genesis",
                "selector": "double_",
                "version": 2,
                "provenance": PROVENANCE,
                "source": "",
            },
        ],
    },
    "source_reply": {
        "type": "source_reply",
        "id": RID,
        "target": "0x1a",
        "selector": "double_",
        "version": 2,
        "source": "def double_(self, n):\n    return n + n\n",
        "provenance": PROVENANCE,
    },
    "revert_reply": {"type": "revert_reply", "id": RID, "version": 3},
    "status_reply": {
        "type": "status_reply",
        "id": RID,
        "pid": 4242,
        "image": "file:///home/u/.local/share/batos/image.fs",
        "protocol_version": 1,
        "uptime_s": 12.5,
        "incarnation": 3,
        "workers": 2,
        "queue_depth": 0,
        "backend": "replay",
        "model": "",
    },
    "shutdown_reply": {"type": "shutdown_reply", "id": RID},
    "cem_reply": {
        "type": "cem_reply",
        "id": RID,
        "value": 0.425,
        "components": {"structural": 0.7, "novelty": 0.0, "diversity": 0.0, "competence": 1.0},
        "weights": {"structural": 0.25, "novelty": 0.25, "diversity": 0.25, "competence": 0.25},
        "facts": {"objects": 8.0, "messages": 0.0},
        "threshold": 0.5,
        "trend": [[1700000000.5, 0.425]],
        "acts": [{"seq": 1, "outcome": "installed", "selector": "double", "cem_before": 0.4}],
        "enabled": False,
        "running": 0,
    },
    "autotelic_reply": {
        "type": "autotelic_reply",
        "id": RID,
        "enabled": True,
        "running": 3,
        "started": 3,
        "message": "act 3 started (run-once requested)",
        "budget": {"acts_last_hour": 1, "max_acts_per_hour": 4, "exhausted": ""},
        "settings": {"idle_s": 300.0, "threshold": 0.5},
        "acts": [],
    },
    "dataset_reply": {
        "type": "dataset_reply",
        "id": RID,
        "records": [
            {
                "messages": [
                    {"role": "user", "content": "Write double."},
                    {"role": "assistant", "content": "def double(self):\n    return 2\n"},
                ],
                "metadata": {"seq": 7, "selector": "double"},
            }
        ],
        "next_seq": 7,
        "done": True,
    },
    "proposals_reply": {
        "type": "proposals_reply",
        "id": RID,
        "proposals": [
            {
                "proposal": "3f2a9c0d",
                "target": "0x1a",
                "target_name": "genesis",
                "selector": "double_",
                "source": "def double_(self, n):\n    return n + n\n",
                "trial": {"ok": True, "value": "4", "seconds": 0.125},
                "created": 1700000000.5,
                "expires": 1700000600.5,
            },
        ],
    },
    "approve_reply": {"type": "approve_reply", "id": RID, "proposal": "3f2a9c0d", "approved": True},
    "event": {"type": "event", "id": RID, "kind": "phase", "data": {"phase": "generating"}},
    "error_reply": {
        "type": "error_reply",
        "id": RID,
        "name": "SlotNotFound",
        "message": "genesis does not understand frobnicate",
        "traceback": "Traceback (most recent call last):\n  ...\n",
        "code": "slot_not_found",
    },
}
