"""``python -m cdi``: the ``cdi`` command line, for a virtual environment whose scripts are
not on ``PATH`` (or a checkout run with ``PYTHONPATH=src``)."""

import sys

from cdi.cli.fast import main

if __name__ == "__main__":
    sys.exit(main())
