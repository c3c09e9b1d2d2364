"""``python -m dualnet`` runs the command line."""

import sys

from dualnet.cli import main

sys.exit(main())
