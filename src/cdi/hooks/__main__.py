"""``python -I -m cdi.hooks``: what the ``cdi-hook`` launchers start."""

from cdi.hooks.main import main

main()
