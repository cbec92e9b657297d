"""``python -m fedsim_harness.cli``: the ``fedsim`` command (how ``fedsim up
--detach`` starts the background federation, with this very interpreter)."""
import sys

from fedsim_harness.cli import main

sys.exit(main())
