"""One world, many daemons: the storage server batos runs, and what daemons share through it.

Nothing here imports ZODB at import time: the CLI uses `zeo_server` directly.
"""
