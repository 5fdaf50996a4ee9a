"""The UVM daemon: a signed ZeroMQ ROUTER in front of transactional workers.

Import `batos_core.daemon.server` to run one; importing this package does
nothing (no socket is bound and no image opened at import time).
"""
