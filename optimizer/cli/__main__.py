"""`python -m optimizer.cli`: the same as the `layerswap` console script."""

import sys

from optimizer.cli import main

if __name__ == "__main__":  # importing this module (e.g. to check imports) runs nothing
    sys.exit(main())
