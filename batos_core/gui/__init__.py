"""The UI process: the Synaptic Bridge, the launcher of generated Kivy UIs, the fallback inspector.

Importing this package imports nothing else (Kivy included): the UI runs as its
own process, ``python -m batos_core.gui`` (see ``launcher``), a client of the
daemon like the CLI. See ``docs/ui.md``.
"""
