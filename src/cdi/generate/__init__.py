"""Spec generators for real hardware.

Generators read the host only through the roots they are given (driver root, dev root, sysfs
and procfs roots), so each one runs unchanged on a fake tree on disk. They return a
:class:`cdi.Spec`; writing and printing are left to the caller.
"""
