"""batos core: the live image, the UVM daemon, the JIT compiler for intent.

Nothing here does work at import time: no model is loaded, no socket bound,
no database opened until a caller asks for it.
"""

__version__ = "0.1.0"
