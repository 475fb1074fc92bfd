"""``python -m dno`` runs the command line."""

import sys

from dno.cli import main

sys.exit(main())
