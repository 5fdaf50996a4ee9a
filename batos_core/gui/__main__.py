"""`python -m batos_core.gui`: run the UI of an image's daemon in this process."""

import sys

from batos_core.gui.launcher import main

sys.exit(main())
