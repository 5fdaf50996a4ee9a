"""Getting exactly the code out of a model's reply.

Small instruct models wrap code in fences, add a sentence before and after,
forget to close the fence, or leak chat-template tokens (``<|im_end|>``).
Extraction removes all of that and nothing else: it never repairs code, so a
syntax error in the model's code survives to vetting, which names its line.
"""

from __future__ import annotations

import ast
import re
import textwrap

from batos_core.jit.errors import ExtractionError

# Chat-template leftovers: <|im_end|>, <|eot_id|>, <|endoftext|>, </s>, <s>.
_SPECIAL_TOKEN = re.compile(r"<\|[A-Za-z0-9_]+\|>|</?s>")
_ROLE_HEADER = re.compile(r"^\s*(assistant|<\|im_start\|>assistant)\s*$", re.MULTILINE)
# A fence opens at the start of a line with ``` or ~~~ and an optional language tag.
_FENCE_OPEN = re.compile(r"^[ \t]*(```|~~~)[ \t]*([\w+#.-]*)[ \t]*$", re.MULTILINE)
_CODE_START = re.compile(r"^(def |async def |import |from \w[\w.]* import |class |@)", re.MULTILINE)
_LANGUAGE_LINE = re.compile(r"^\s*(python3?|py)\s*\n", re.IGNORECASE)


def extract_code(reply: str, selector: str) -> str:
    """Return the code of ``reply`` that defines ``selector`` (Python name).

    Fenced blocks win over bare text; among several blocks the one defining
    ``selector`` is chosen, else the first holding a ``def``. Unfenced replies
    lose their leading chatter and their trailing prose. Raises
    ``ExtractionError`` (one-line reason) when no code is found.
    """
    text = _clean(reply)
    blocks = _fenced_blocks(text)
    if blocks:
        code = _choose_block(blocks, selector)
    else:
        code = _bare_code(text)
    code = textwrap.dedent(code).strip("\n")
    if not code.strip():
        raise ExtractionError("the reply contained no code; reply with one Python code block")
    return code + "\n"


def _clean(reply: str) -> str:
    text = _SPECIAL_TOKEN.sub("\n", reply.replace("\r\n", "\n"))
    return _ROLE_HEADER.sub("", text)


def _fenced_blocks(text: str) -> list[str]:
    """The contents of every fenced block, in order; an unclosed last fence runs to the end."""
    blocks: list[str] = []
    position = 0
    while (opening := _FENCE_OPEN.search(text, position)) is not None:
        fence = opening.group(1)
        start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(fence)}[ \t]*$", re.MULTILINE)
        end_match = closing.search(text, start)
        if end_match is None:
            blocks.append(text[start:])
            break
        blocks.append(text[start : end_match.start()])
        position = end_match.end()
    return [block for block in blocks if block.strip()]


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _choose_block(blocks: list[str], selector: str) -> str:
    for block in blocks:
        if _defines(block, selector):
            return block
    for block in blocks:
        if re.search(r"^\s*def\s", block, re.MULTILINE):
            return block
    return blocks[0]


def _bare_code(text: str) -> str:
    """Code from an unfenced reply: from the first code line to the longest prefix that parses."""
    text = _LANGUAGE_LINE.sub("", text, count=1)
    start = _CODE_START.search(text)
    if start is None:
        raise ExtractionError("the reply contained no function definition; reply with one Python code block")
    lines = text[start.start() :].rstrip().split("\n")
    # Trailing prose ("This function returns ...") does not parse; the longest
    # prefix that does is the code. If nothing parses, hand the lot to vetting
    # so the syntax error is reported with its line.
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end])
        if _parses(candidate) and re.search(r"^\s*def\s", candidate, re.MULTILINE):
            return candidate
    return "\n".join(lines)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True
