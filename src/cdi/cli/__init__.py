"""The ``cdi`` command line: thin click commands over the library."""
