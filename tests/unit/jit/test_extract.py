"""Extraction takes exactly the code out of a model reply, whatever wraps it."""

from __future__ import annotations

import pytest

from batos_core.jit.errors import ExtractionError
from batos_core.jit.extract import extract_code

BODY = "def sumOf_(self, sum_of):\n    return sum(sum_of)\n"


@pytest.mark.parametrize(
    "reply",
    [
        f"```python\n{BODY}```",
        f"```\n{BODY}```",
        f"```py\n{BODY}```\n",
        f"Sure! Here is the method:\n\n```python\n{BODY}```\n\nThis sums the numbers.",
        f"```python\n{BODY}",  # the model stopped before closing the fence
        f"```python\n{BODY}```<|im_end|>",
        f"{BODY}<|im_end|>\n<|endoftext|>",
        f"Here you go:\n{BODY}\nThis function returns the sum of the list.",
        f"python\n{BODY}",
        f"~~~python\n{BODY}~~~",
        "```python\n" + "".join("    " + line + "\n" for line in BODY.splitlines()) + "```",
    ],
)
def test_reply_shapes_yield_the_same_code(reply: str) -> None:
    assert extract_code(reply, "sumOf_") == BODY


def test_the_block_defining_the_selector_wins() -> None:
    reply = (
        "First a helper:\n```python\ndef helper(x):\n    return x\n```\n"
        f"And the method:\n```python\n{BODY}```\nExample:\n```python\nprint(1)\n```"
    )
    assert extract_code(reply, "sumOf_") == BODY


def test_without_the_selector_the_first_block_with_a_def_is_taken() -> None:
    reply = "```text\nusage notes\n```\n```python\ndef other(self):\n    return 1\n```"
    assert extract_code(reply, "sumOf_") == "def other(self):\n    return 1\n"


def test_leading_imports_stay_with_the_function() -> None:
    reply = "Answer:\nimport math\n\ndef root(self):\n    return math.sqrt(self.x)\nDone."
    assert extract_code(reply, "root") == "import math\n\ndef root(self):\n    return math.sqrt(self.x)\n"


def test_broken_code_is_passed_on_for_vetting_to_report() -> None:
    reply = "```python\ndef f(self:\n    return 1\n```"
    assert extract_code(reply, "f") == "def f(self:\n    return 1\n"


@pytest.mark.parametrize("reply", ["", "   \n", "I cannot help with that.", "```python\n```"])
def test_no_code_is_an_extraction_error(reply: str) -> None:
    with pytest.raises(ExtractionError) as info:
        extract_code(reply, "f")
    assert "no" in info.value.reason and "\n" not in info.value.reason
