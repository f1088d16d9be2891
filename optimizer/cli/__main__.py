"""`python -m optimizer.cli`: the same as the `layerswap` console script."""

import sys

from optimizer.cli import main

sys.exit(main())
