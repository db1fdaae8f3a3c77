"""``cdi-runtime``: an OCI runtime that injects CDI devices, then hands over to runc or crun.

Engines call it in place of runc. For ``create``, ``run`` and ``restore`` it reads the
bundle's ``config.json``, injects the devices the container asks for (annotations, and
optionally environment variables), writes the file back in place and executes the real
runtime with the arguments unchanged. Every other command goes straight to the real runtime,
without importing the CDI library (:mod:`cdi.shim.main`).

This package imports nothing at import time: the pass-through path must stay cheap.
"""
