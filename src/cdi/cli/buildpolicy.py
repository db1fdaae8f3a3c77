"""The device policy for build commands, from flags, a buildkitd.toml and the environment."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from cdi.policy.config import PolicyConfig
    from cdi.policy.devices import DevicePolicy

# The policy (and the registry under it) is imported when a build applies it, not when the
# command is only set up (``--help``, a refused flag).

#: The environment variable ``--host-root`` defaults from.
HOST_ROOT_ENV = "CDI_HOST_ROOT"


def policy_options(function: Any) -> Any:
    """``--config``, ``--auto-allow`` and ``--host-root``, for the commands that apply the
    build policy."""
    import click  # here: the build's fast path imports this module without click

    function = click.option(
        "--host-root",
        "host_root",
        default="/",
        show_default=True,
        envvar=HOST_ROOT_ENV,
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="The directory standing for the host's / when checking for on-demand devices "
        "(its proc/, sys/, dev/ and driver files) and generating their specs "
        f"(env {HOST_ROOT_ENV}).",
    )(function)
    function = click.option(
        "--auto-allow",
        "auto_allowed",
        multiple=True,
        metavar="NAME|KIND",
        help="Allow a device or kind without --allow (like [cdi] autoAllowed; repeatable).",
    )(function)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, exists=True),
        help="A buildkitd.toml whose [cdi] table sets specDirs, autoAllowed and disabled.",
    )(function)


def build_config(
    spec_dirs: Sequence[str] | None, config_path: str | None, auto_allowed: Sequence[str]
) -> PolicyConfig:
    """Spec directories: *spec_dirs* (``--spec-dir``), else the file's ``specDirs``, else
    ``$CDI_SPEC_DIRS``, else BuildKit's three defaults. *auto_allowed* adds to the file's."""
    from cdi.policy.config import DEFAULT_SPEC_DIRS, PolicyConfig, load_config
    from cdi.registry import SPEC_DIRS_ENV

    config = load_config(config_path) if config_path else None
    if spec_dirs:
        dirs = tuple(spec_dirs)
    elif config is not None:
        dirs = config.spec_dirs
    elif os.environ.get(SPEC_DIRS_ENV):
        dirs = tuple(d for d in os.environ[SPEC_DIRS_ENV].split(":") if d)
    else:
        dirs = DEFAULT_SPEC_DIRS
    base = config.auto_allowed if config is not None else ()
    disabled = config.disabled if config is not None else False
    return PolicyConfig(disabled=disabled, spec_dirs=dirs, auto_allowed=(*base, *auto_allowed))


def policy_from_options(
    spec_dirs: Sequence[str] | None,
    config_path: str | None,
    auto_allowed: Sequence[str],
    host_root: str = "/",
) -> DevicePolicy | None:
    """The policy builds use; ``None`` when the configuration disables CDI. On-demand
    devices are looked for under *host_root* (``--host-root``)."""
    from cdi.policy.devices import DevicePolicy

    config = build_config(spec_dirs, config_path, auto_allowed)
    return DevicePolicy.from_config(config, host_root=host_root)
