"""The environment a hook runs with: nothing from its caller that could change what runs.

A hook runs as root in the runtime's namespaces, started by runc with the hook entry's
``env`` (runtimes pass no ``PATH``). Variables that make the dynamic loader or the Python
interpreter load other code (``LD_PRELOAD``, ``LD_LIBRARY_PATH``, ``LD_AUDIT``,
``PYTHONPATH``, ``PYTHONHOME``, ...) must have no effect: CVE-2025-23266 was a hook honouring
``LD_PRELOAD``. :func:`scrubbed` is the environment the hook keeps (and the only one any child
it starts, such as ``ldconfig``, ever gets); :func:`needs_isolated_restart` says whether this
interpreter was started in a way that may already have honoured something, in which case
the entry point starts a fresh, isolated one (``python -I``) with the scrubbed environment.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

#: The search path children get (runtimes start hooks without one).
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Prefixes and names of variables that load or redirect code, or reach glibc's
#: secure-mode list (``unsecvars.h``); none of them survives.
_DANGEROUS_PREFIXES = ("LD_", "PYTHON", "MALLOC_", "GLIBC_")
_DANGEROUS_NAMES = frozenset(
    {
        "GCONV_PATH",
        "GETCONF_DIR",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "LOCPATH",
        "NIS_PATH",
        "NLSPATH",
        "RESOLV_HOST_CONF",
        "RES_OPTIONS",
        "TMPDIR",
        "TZDIR",
    }
)

#: What a hook reads from its environment: the debug and quiet switches (nvidia-cdi-hook's
#: names and their legacy spellings).
KEPT = ("NVIDIA_CTK_DEBUG", "NVIDIA_CDI_DEBUG", "NVIDIA_CTK_QUIET", "NVIDIA_CDI_QUIET")


def is_dangerous(name: str) -> bool:
    return name.startswith(_DANGEROUS_PREFIXES) or name in _DANGEROUS_NAMES


def scrubbed(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of *environ* a hook keeps, and ``PATH`` set to :data:`SAFE_PATH`."""
    kept = {name: environ[name] for name in KEPT if name in environ}
    kept["PATH"] = SAFE_PATH
    return kept


def needs_isolated_restart(environ: Mapping[str, str]) -> bool:
    """Whether this interpreter may have honoured its caller: not started with ``-I``, or
    a dangerous variable is set (the loader or ``site`` may have acted on it)."""
    if not sys.flags.isolated:
        return True
    return any(is_dangerous(name) for name in environ)
