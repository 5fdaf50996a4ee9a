"""Extraction takes exactly the code out of a model reply, whatever wraps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from batos_core.jit.errors import ExtractionError
from batos_core.jit.extract import extract_code
from batos_core.jit.vet import VetPolicy, vet

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


# display_yourself as a chat model writes it without the prompt's prefill: the
# imports and the App class at the top level, the function, a main guard.
CHAT_UI = """\
from kivy.app import App
from kivy.uix.label import Label


class BatOS_EntropicUI_App(App):
    def build(self):
        return Label(text="hello")


def display_yourself(self):
    return BatOS_EntropicUI_App


if __name__ == "__main__":
    BatOS_EntropicUI_App().run()
"""


@pytest.mark.parametrize(
    "reply",
    [
        f"Here is a Kivy UI:\n\n```python\n{CHAT_UI}```\n\nRun it with `python ui.py`.",
        f"```bash\npip install kivy\n```\nThen:\n```python\n{CHAT_UI}```",
        f"Here is a Kivy UI:\n{CHAT_UI}\nThe function returns the App class.<|im_end|>",
    ],
)
def test_a_top_level_app_class_is_extracted_whole(reply: str) -> None:
    # Extraction keeps every part; vetting encloses the class (test_vet.py).
    code = extract_code(reply, "display_yourself")
    assert code == CHAT_UI
    enclosed = vet(code, "display_yourself", VetPolicy.ui()).source
    assert enclosed.startswith("def display_yourself(self):\n    from kivy.app import App\n")
    assert "__main__" not in enclosed


def test_the_reply_qwen_wrote_over_the_openai_backend_is_enclosed() -> None:
    # qwen2.5-coder-1.5b-instruct, greedy, UI prompt without the prefill, served by
    # llama-cpp-python's server: imports, the class, no function, and a call of
    # display_yourself at the end (docs/jit.md).
    reply = (Path(__file__).parent / "replies" / "qwen2.5-coder-1.5b_display_yourself_openai.txt").read_text()
    assert reply.rstrip().endswith("display_yourself(BatOS_EntropicUI_App())\n```")
    enclosed = vet(extract_code(reply, "display_yourself"), "display_yourself", VetPolicy.ui()).source
    # It used Button and TextInput without importing them: vetting imports them.
    assert enclosed.startswith(
        "from kivy.uix.button import Button\nfrom kivy.uix.textinput import TextInput\n"
        "def display_yourself(self):\n    from kivy.app import App\n"
    )
    assert "\n    class BatOS_EntropicUI_App(App):\n        def build(self):\n" in enclosed
    assert enclosed.endswith("\n    return BatOS_EntropicUI_App\n")
    assert "BatOS_EntropicUI_App())" not in enclosed
