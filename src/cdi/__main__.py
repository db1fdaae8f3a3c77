"""``python -m cdi``: the ``cdi`` command line, for a virtual environment whose scripts are
not on ``PATH`` (or a checkout run with ``PYTHONPATH=src``)."""

from cdi.cli.main import main

if __name__ == "__main__":
    # click names the program "python -m cdi" in usage lines, which is how it was called.
    main()
