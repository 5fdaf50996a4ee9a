"""The autotelic heartbeat: the Composite Entropy Metric and budgeted self-improvement.

Modules (each one concept; see ``docs/autotelic.md``):

* ``config``: knobs (weights, thresholds, budgets) from ``batos.toml`` / ``BATOS_AUTOTELIC_*``;
* ``cem``: the metric's formula over plain numbers (no ZODB);
* ``summary``: the incrementally maintained image summary the metric reads;
* ``activity``: the ring of recent messages and misses, fed by the daemon;
* ``state``: the persistent record of acts in the image;
* ``budget``: acts per hour and tokens per day;
* ``proposal``: asking the model for one missing capability and its check;
* ``act``: one self-improvement act through the JIT;
* ``heartbeat``: the daemon task deciding when to act;
* ``service``: what the daemon holds;
* ``dataset``: accepted generations as chat JSONL.

Importing this package imports nothing heavy (the CLI imports ``dataset``).
"""
