"""The CLI side of `batos upgrade`: build the next Python environment and verify it.

* `envbuild` builds the next environment beside the current one (standard
  library only; the CLI runs it);
* `verify` checks it in its own interpreter (`verify_child` runs there).

The daemon side (the hand-over itself, the image's incarnations) is
`batos_core.upgrade`. Importing this package imports nothing else.
"""
