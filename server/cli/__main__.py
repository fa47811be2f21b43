"""`python -m diffill.server.cli`: the `diffill` command."""

import sys

from .parser import main

sys.exit(main())
