"""The batos command line: a thin client of the UVM daemon.

This package never imports ZODB, persistent, torch, transformers or kivy (a
test checks `sys.modules`): it talks to the daemon over the signed protocol.
"""
