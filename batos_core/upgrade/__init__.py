"""Ship-of-Theseus upgrade, the daemon side: a new daemon process for the same image.

* `handover` moves the image, endpoint and key from the old daemon to the new
  one, or rolls back;
* `host` is what the hand-over needs from the daemon (`HandoverHost`; the
  daemon satisfies it, so nothing here imports `batos_core.daemon`);
* `incarnations` keeps the image's record of every process that served it.

Building and verifying the new environment is the CLI's part:
`batos_core.environment`. Importing this package imports nothing else.
"""
