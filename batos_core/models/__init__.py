"""Models on disk: the catalog, the cache, ``batos model pull``, GGUF headers and
which local engine would serve a model.

Standard library only (the hub client is imported lazily, by a pull from the
hub): the CLI's ``batos model`` and the JIT's backends both import this
package, and it imports neither of them, nor numpy, torch or llama_cpp.
"""
