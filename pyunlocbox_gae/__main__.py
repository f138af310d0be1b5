"""``python -m pyunlocbox_gae``: the ``gae`` command."""

import sys

from pyunlocbox_gae.cli import main

sys.exit(main())
