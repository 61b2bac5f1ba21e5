"""``python -m netpoll``: the same as the ``netpoll`` command."""

import sys

from netpoll.cli import main

sys.exit(main())
