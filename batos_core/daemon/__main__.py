"""`python -m batos_core.daemon`: run a UVM daemon in the foreground."""

import sys

from batos_core.daemon.lifecycle import main

sys.exit(main())
