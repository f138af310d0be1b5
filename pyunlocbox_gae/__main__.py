"""``python -m pyunlocbox_gae``: the ``gae`` command."""

import sys

from pyunlocbox_gae.cli import main

if __name__ == "__main__":
    sys.exit(main())
