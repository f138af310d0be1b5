import sys

from pyunlocbox_gae.cli import main

sys.exit(main())
