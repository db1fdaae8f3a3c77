"""The NVIDIA Container Toolkit's ``config.toml``, for the one setting generation takes from it.

nvidia-ctk uses ``nvidia-container-cli.root`` of its configuration file as the default driver
root, so that a host whose driver lives elsewhere (a driver container's
``/run/nvidia/driver``) needs the path in one place only. A missing file means the defaults.
"""

from __future__ import annotations

import os
import tomllib

from cdi.generate.errors import GenerateError

DEFAULT_CONFIG = "/etc/nvidia-container-runtime/config.toml"
CONFIG_ENV = "NVIDIA_CTK_CONFIG"

#: Larger than any real configuration by far; a bigger file is not read.
_MAX_SIZE = 1 << 20


class ConfigError(GenerateError):
    """The configuration file exists but cannot be read or parsed."""


def config_path(given: str = "") -> str:
    """*given*, else ``$NVIDIA_CTK_CONFIG``, else the toolkit's default path."""
    return given or os.environ.get(CONFIG_ENV, "") or DEFAULT_CONFIG


def configured_driver_root(path: str) -> str:
    """``nvidia-container-cli.root`` of the configuration file at *path*; empty when the
    file or the setting is absent. Raises :class:`ConfigError`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_SIZE + 1)
    except FileNotFoundError:
        return ""
    except OSError as err:
        raise ConfigError(f"failed to load config {path}: {err.strerror}") from None
    if len(data) > _MAX_SIZE:
        raise ConfigError(f"failed to load config {path}: larger than {_MAX_SIZE} bytes")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"failed to load config {path}: {err}") from None
    section = document.get("nvidia-container-cli")
    root = section.get("root") if isinstance(section, dict) else None
    if root is not None and not isinstance(root, str):
        raise ConfigError(
            f"failed to load config {path}: nvidia-container-cli.root is not a string"
        )
    return root or ""
