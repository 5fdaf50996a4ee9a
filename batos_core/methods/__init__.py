"""Methods of the image's objects: installing a version (`install`) and its record (`changelog`).

Below the JIT, the daemon's handlers, the Self syntax and the autotelic loop,
which all install methods: it imports only `objects` and the ZODB libraries.
"""
