"""`python -m lab.cli ...` runs foolab (the bench starts the dashboard this way)."""

import sys

from lab.cli import main

sys.exit(main())
