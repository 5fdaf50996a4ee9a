"""Ship-of-Theseus upgrade: a new daemon process (and environment) for the same image.

* `envbuild` builds the next environment beside the current one (stdlib only,
  the CLI runs it);
* `verify` checks it in its own interpreter (`verify_child` runs there);
* `handover` moves the image, endpoint and key from the old daemon to the new
  one, or rolls back;
* `incarnations` keeps the image's record of every process that served it.

Importing this package imports nothing else.
"""
