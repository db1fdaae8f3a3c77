"""buildkitd's ``[cdi]`` configuration: ``disabled``, ``specDirs``, ``autoAllowed``."""

from __future__ import annotations

import os

from cdi.errors import CDIError
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

#: BuildKit adds /etc/buildkit/cdi to the CDI library's two defaults (later wins).
DEFAULT_SPEC_DIRS = ("/etc/cdi", "/var/run/cdi", "/etc/buildkit/cdi")


class ConfigError(CDIError):
    """The configuration file is unreadable or has the wrong shape."""


@record
class PolicyConfig:
    """Device settings for builds."""

    disabled: bool = False
    spec_dirs: tuple[str, ...] = DEFAULT_SPEC_DIRS
    #: device names or kinds allowed without ``--allow``
    auto_allowed: tuple[str, ...] = ()


def _strings(table: dict[str, Any], key: str, path: str) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: [cdi] {key} must be a list of strings")
    return tuple(value)


def load_config(path: str | os.PathLike[str]) -> PolicyConfig:
    """Read the ``[cdi]`` table of a buildkitd.toml (other tables are ignored)."""
    import tomllib  # only a build given --config reads one

    name = os.fspath(path)
    try:
        with open(name, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as err:
        raise ConfigError(f"failed to read {name}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"failed to parse {name}: {err}") from None
    table = document.get("cdi", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{name}: [cdi] must be a table")
    disabled = table.get("disabled", False)
    if not isinstance(disabled, bool):
        raise ConfigError(f"{name}: [cdi] disabled must be true or false")
    # An empty or missing specDirs means the defaults, as in buildkitd.
    spec_dirs = _strings(table, "specDirs", name) or DEFAULT_SPEC_DIRS
    auto_allowed = _strings(table, "autoAllowed", name) or ()
    return PolicyConfig(disabled=disabled, spec_dirs=spec_dirs, auto_allowed=auto_allowed)
