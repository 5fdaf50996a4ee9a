"""Integration tests of `batos upgrade` (a package, so its modules share helpers)."""
