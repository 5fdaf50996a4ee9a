"""The interactive Self-style REPL (`batos repl`): one module per concern.

`session` runs the prompt loop, `remote` talks to the daemon, `completer`,
`lexer`, `keybindings` and `continuation` shape the input line, `meta_commands`
answers ``:help`` and friends, `display` renders results, `history` finds the
history file. Nothing here imports ZODB or pydantic: it runs in the CLI process.
"""
