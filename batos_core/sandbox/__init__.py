"""Restricted execution of methods the model wrote (and of any method not marked trusted).

Model output is untrusted input. Vetting (``jit/vet.py``) is a linter that
gives the model useful reasons; this package is the guard that holds whatever
the source looks like:

* ``compiler``: RestrictedPython's ``compile_restricted`` with batos's policy.
  Every attribute read goes through ``_getattr_``, every attribute or item
  write through ``_write_``, every subscript through ``_getitem_``; a name
  or a literal attribute starting with ``_`` does not compile.
* ``guards``: the functions the compiled code calls. No name starting with
  ``_`` (nor a frame, code or traceback attribute) is reachable by any route:
  attribute syntax, ``getattr`` with a computed string, ``functools.reduce``,
  ``operator.attrgetter``/``methodcaller``, ``str.format``/``format_map``.
* ``modules``: frozen proxies of the allow-listed modules, exposing their
  public functions, types and constants and nothing that is a module outside
  the allow-list; ``import`` inside a method gives the proxy or fails.
* ``namespace``: the globals a restricted function runs with (restricted
  builtins, the guards, the proxies, the ``batos`` API frozen).
* ``audit``: the second wall, a ``sys.addaudithook`` hook: while restricted
  code is on a thread's stack, opening files, ``os``/``subprocess``/
  ``socket``/``ctypes`` calls, importing a module not yet loaded,
  ``compile``/``exec`` and frame/code introspection raise.

Every module here except ``compiler`` uses the standard library only: the
trial child (``jit/trial_child.py``, run as ``python -I -S``) imports them,
so the trial runs a method with exactly the namespace the daemon gives it.
"""
