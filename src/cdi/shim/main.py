"""``cdi-runtime``: inject CDI devices into the bundle, then become the real OCI runtime.

Every command goes to the real runtime (runc, crun) with the arguments unchanged, by
``execv``: exit status, signals, stdio and inherited descriptors (console sockets,
``--preserve-fds``) are the runtime's own. Before ``create``, ``run`` and ``restore`` the
devices the container requests are injected into its ``config.json``; if that fails the
runtime is not called, the file is unchanged, and the error goes to the log file the engine
gave (``--log``, in its ``--log-format``) and to stderr, with exit status 1.

Only what a command needs is imported: ``state``, ``kill``, ``delete`` and the rest load
neither the CDI library nor a JSON or TOML parser.
"""

from __future__ import annotations

import gc
import os
import sys

from cdi.shim.argv import INJECTING_COMMANDS, Invocation, parse_argv
from cdi.shim.config import ConfigError, ShimConfig, load_config
from cdi.shim.log import ShimLog
from cdi.shim.lookup import RuntimeNotFoundError, find_runtime

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, NoReturn

    from cdi.registry.core import Registry

__all__ = ["main"]

#: How many per-file problems an "unresolvable" error quotes.
_QUOTED_PROBLEMS = 3


def _version() -> None:
    from cdi import __version__
    from cdi.spec.version import CURRENT_VERSION

    sys.stdout.write(f"cdi-runtime version {__version__}\nCDI spec version {CURRENT_VERSION}\n")
    sys.stdout.flush()  # before execv replaces the process and its buffers


def _problems(registry: Registry) -> str:
    """The spec files that failed to load or were refused, for an unresolvable error."""
    found = [str(error) for problems in registry.errors().values() for error in problems]
    if not found:
        return ""
    more = len(found) - _QUOTED_PROBLEMS
    quoted = "; ".join(found[:_QUOTED_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
    return f" (spec file problems: {quoted})"


def _inject(
    spec: dict[str, Any], devices: list[str], config: ShimConfig, log: ShimLog
) -> dict[str, Any]:
    """*spec* with *devices* injected: from the registry index when no spec file changed
    (the common case, and the cheap one), else through a registry."""
    from cdi.errors import CDIError, UnresolvableDevicesError
    from cdi.injection import InjectionError, inject_devices
    from cdi.registry.quick import quick_edits
    from cdi.registry.trust import default_mode

    dirs = config.registry_dirs(os.environ)
    trust = config.trust or default_mode()
    try:
        edits = quick_edits(devices, dirs, trust=trust)
        if edits is not None:
            log.debug("CDI devices resolved from the registry index")
            return inject_devices(spec, edits)
        from cdi.registry.core import Registry

        registry = Registry(dirs, trust=trust)
        log.debug(f"CDI spec directories: {', '.join(registry.spec_dirs())}")
        for problems in registry.trust_warnings().values():
            for problem in problems:
                log.warning(str(problem))
        try:
            return registry.inject(spec, devices)
        except UnresolvableDevicesError as err:
            log.debug(f"known CDI devices: {', '.join(registry.list_devices()) or 'none'}")
            raise CDIError(f"failed to inject CDI devices: {err}{_problems(registry)}") from None
    except InjectionError as err:
        raise CDIError(f"failed to inject CDI devices: {err}") from None


def inject_bundle(invocation: Invocation, config: ShimConfig, log: ShimLog) -> bool:
    """Inject the requested devices into the bundle's ``config.json``; whether it was
    rewritten. Raises our own errors (their text is the message for the engine)."""
    from cdi.shim.bundle import ConfigFile, config_path
    from cdi.shim.requests import requested_devices

    path = config_path(invocation.bundle, invocation.config_file)
    config_file = ConfigFile.read(path)
    requests = requested_devices(config_file.spec, config)
    for warning in requests.ignored:
        log.warning(warning)
    if not requests.devices:
        log.debug(f"no CDI devices requested in {path}")
        return False
    from cdi.shim.once import drop_repeated

    injected = _inject(config_file.spec, requests.devices, config, log)
    drop_repeated(config_file.spec, injected)
    if injected == config_file.spec:
        log.debug(f"{path} already has CDI devices {', '.join(requests.devices)}")
        return False
    config_file.write(injected)
    log.info(f"injected CDI devices {', '.join(requests.devices)} into {path}")
    return True


def _original_environment() -> Mapping[bytes, bytes] | Mapping[str, str]:
    """The environment this process was started with, for the runtime.

    Not ``os.environ``: Python changes that at start-up (in the C locale it sets
    ``LC_CTYPE=C.UTF-8``, PEP 538), and the runtime must get the engine's environment
    exactly. The kernel keeps the original block in ``/proc/self/environ``."""
    try:
        with open("/proc/self/environ", "rb") as handle:
            block = handle.read()
    except OSError:
        return os.environ
    entries = (entry.partition(b"=") for entry in block.split(b"\0") if entry)
    return {name: value for name, _, value in entries}


def _restore_signals() -> None:
    """Undo what Python did to signal dispositions at start-up, which ``execve`` would hand
    on: it ignores ``SIGPIPE`` and ``SIGXFSZ``, and an ignored signal stays ignored across
    exec. The runtime gets them at their defaults, as any engine starts it."""
    # Built in and loaded with the interpreter (``signal`` would load enum); no stubs.
    import _signal  # type: ignore[import-not-found]

    for name in ("SIGPIPE", "SIGXFSZ"):
        number = getattr(_signal, name, None)
        if number is not None:
            _signal.signal(number, _signal.SIG_DFL)


def _fail(log: ShimLog, message: str) -> NoReturn:
    log.error(message)
    sys.exit(1)


def run(arguments: Sequence[str]) -> NoReturn:
    """Handle one command line (``argv[1:]``); never returns."""
    invocation = parse_argv(arguments)
    if invocation.version:
        _version()
    config_problem = None
    try:
        config = load_config()
    except ConfigError as err:
        config, config_problem = ShimConfig(), str(err)
    level = "debug" if invocation.debug else config.log_level
    log = ShimLog([invocation.log or "", config.log_file], invocation.log_format, level)
    if invocation.command in INJECTING_COMMANDS and invocation.problem is None:
        if config_problem is not None:
            _fail(log, config_problem)
        from cdi.errors import CDIError
        from cdi.shim.bundle import BundleError

        try:
            inject_bundle(invocation, config, log)
        except (CDIError, BundleError) as err:
            _fail(log, str(err))
        except Exception as err:  # a bug of ours: an error for the engine, never a traceback
            _fail(log, f"failed to inject CDI devices: unexpected error: {err!r}")
    elif config_problem is not None:
        # Never block state/kill/delete of running containers on a broken file: the
        # default candidates still find the runtime.
        log.warning(f"{config_problem}; using the defaults")
    try:
        runtime, tried = find_runtime(config.runtimes)
    except RuntimeNotFoundError as err:
        log.debug(f"runtime candidates tried: {', '.join(err.tried) or 'none'}")
        _fail(log, str(err))
    log.debug(f"executing {runtime} (tried {', '.join(tried)})")
    _restore_signals()
    try:
        os.execve(runtime, [runtime, *arguments], _original_environment())
    except OSError as err:
        _fail(log, f"could not exec {runtime!r}: {err.strerror or err}")


def main() -> NoReturn:
    """The ``cdi-runtime`` console script."""
    # The process lives milliseconds and then becomes the runtime: the cyclic collector
    # would only walk the objects of imports and the index, freeing nothing.
    gc.disable()
    try:
        run(sys.argv[1:])
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as err:  # outside injection (a bug): one line, not a traceback
        sys.stderr.write(f"cdi-runtime: unexpected error: {err!r}\n")
        sys.exit(1)
