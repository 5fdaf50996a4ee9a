"""A message not understood inside a Self block goes to the JIT like any miss:
the scripted model writes the method, the request's writes are rolled back
and the whole statement runs again (so its side effects happen once)."""

from __future__ import annotations

from typing import Any

from jit_helpers import ScriptedDaemons, call, fenced, history

from batos_core.protocol.builders import eval_request

TRIPLE = "def triple_(self, n):\n    return n * 3\n"


def evaluate(daemon: Any, source: str) -> Any:
    reply = call(daemon, eval_request(source))
    assert reply["type"] == "eval_reply", (source, reply)
    return reply["result"]


def installs(daemon: Any, selector: str) -> int:
    return sum(1 for e in history(daemon) if e["action"] == "install" and e["selector"] == selector)


def test_a_miss_inside_a_block_is_generated_and_the_statement_reruns(scripted: ScriptedDaemons) -> None:
    daemon = scripted([fenced(TRIPLE)])  # one reply: a second miss would exhaust the script
    evaluate(daemon, "genesis _AddSlots: (| visits <- 0 |)")
    statement = "#(1 2 3) collect: [ :x | genesis visits: genesis visits + 1. genesis triple: x ]"
    assert evaluate(daemon, statement) == [3, 6, 9]
    assert evaluate(daemon, "genesis visits") == 3  # the first, failed run was rolled back
    assert installs(daemon, "triple_") == 1


def test_a_miss_inside_a_block_of_a_self_method_goes_to_the_jit(scripted: ScriptedDaemons) -> None:
    daemon = scripted([fenced(TRIPLE)])
    evaluate(daemon, "genesis _AddSlots: (| triples: xs = ( xs collect: [ :x | triple: x ] ) |)")
    assert evaluate(daemon, "genesis triples: #(2 4)") == [6, 12]
    assert evaluate(daemon, "genesis triples: #(5)") == [15]  # installed: no second generation
    assert installs(daemon, "triple_") == 1


TRIPLED = "def tripled(self):\n    return self * 3\n"


def test_a_miss_on_a_number_inside_a_block_is_installed_in_traits_number(scripted: ScriptedDaemons) -> None:
    daemon = scripted([fenced(TRIPLED)])  # its trial runs with self = the number
    evaluate(daemon, "genesis _AddSlots: (| visits <- 0 |)")
    statement = "#(1 2 3) collect: [ :x | genesis visits: genesis visits + 1. x tripled ]"
    assert evaluate(daemon, statement) == [3, 6, 9]
    assert evaluate(daemon, "genesis visits") == 3
    assert evaluate(daemon, "7 tripled") == 21  # every number has it now
    (install,) = [e for e in history(daemon) if e["action"] == "install" and e["selector"] == "tripled"]
    assert evaluate(daemon, "traits number respondsTo: #tripled") is True
    assert install["target"] == call(daemon, eval_request("traits number"))["result"]["$ref"]
