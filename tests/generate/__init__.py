"""Tests of the hardware spec generators (cdi.generate)."""
