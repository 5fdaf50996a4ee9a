"""The UI contract (`batos_core.ui_contract`): one home, and every side keeps it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from batos_core import ui_contract
from batos_core.gui.bridge import SynapticBridge
from batos_core.jit.prompt import ui_messages, ui_prefill
from batos_core.jit.snapshot import ReceiverSnapshot
from batos_core.ui_contract import (
    BRIDGE_CALLS,
    BRIDGE_NAME,
    UI_CLASS_NAME,
    UI_SELECTOR,
    UI_TARGET,
    is_ui_send_result,
    ui_send_result,
)


def test_the_bridge_implements_every_call_the_contract_names() -> None:
    assert all(callable(getattr(SynapticBridge, call, None)) for call in BRIDGE_CALLS)


def test_the_ui_prompt_offers_the_bridge_calls_the_target_and_the_class() -> None:
    system, user = (m["content"] for m in ui_messages(ReceiverSnapshot(name=UI_TARGET)))
    for call in BRIDGE_CALLS:
        assert f"{BRIDGE_NAME}.{call}(" in system
    assert f'{BRIDGE_NAME}.{ui_contract.GET_FULL_STATE}("{UI_TARGET}", show_state)' in system
    assert UI_CLASS_NAME in system and UI_SELECTOR in user
    assert f"class {UI_CLASS_NAME}(App)" in ui_prefill()


def test_a_ui_send_result_is_recognised_and_nothing_else_is() -> None:
    result = ui_send_result("0x1", "0x2", 3)
    assert is_ui_send_result(result) and result["version"] == 3 and result["holder"] == "0x2"
    assert not is_ui_send_result({"ui": "something_else"})
    assert not is_ui_send_result("display_yourself")
    assert not is_ui_send_result(None)


def test_the_module_imports_only_the_standard_library() -> None:
    """The CLI, the UI process and the JIT import it: it imports none of them."""
    tree = ast.parse(Path(ui_contract.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    standard = sys.stdlib_module_names | {"__future__"}
    assert imported and all(name.split(".")[0] in standard for name in imported)
