"""``cdi-runtime``'s configuration file: ``/etc/cdi-runtime/config.toml``.

``$CDI_RUNTIME_CONFIG`` names another file (tests, unusual installs); a missing file means
the defaults. Unknown keys are errors, so that a misspelt key is not silently ignored.
``CDI_SPEC_DIRS`` in the environment overrides ``spec-dirs``, as everywhere else in the
project. Keys::

    spec-dirs = ["/etc/cdi", "/var/run/cdi"]   # lowest priority first
    runtimes = ["runc", "crun"]                # the real runtime: first one found
    annotation-prefixes = ["cdi.k8s.io/"]      # annotations that request devices
    trust = "strict"                           # off | warn | strict (default: strict as root)
    log-level = "warning"                      # error | warning | info | debug
    log-file = ""                              # a log of our own, besides --log

    [env]                                      # devices requested in process.env (off)
    variables = []                             # e.g. ["CDI_DEVICES"]
    nvidia-visible-devices = false             # NVIDIA_VISIBLE_DEVICES=0,1 -> nvidia.com/gpu=0,...
    unprivileged = false                       # also for containers without CAP_SYS_ADMIN
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "ShimConfig",
    "load_config",
]

DEFAULT_CONFIG_PATH = "/etc/cdi-runtime/config.toml"
CONFIG_ENV = "CDI_RUNTIME_CONFIG"
SPEC_DIRS_ENV = "CDI_SPEC_DIRS"

TRUST_MODES = ("off", "warn", "strict")
LOG_LEVELS = ("error", "warning", "info", "debug")

#: Larger than any real configuration; a bigger file is refused before it is read.
MAX_CONFIG_BYTES = 1 << 20


class ConfigError(Exception):
    """The configuration file cannot be used (the message names it)."""


class ShimConfig:
    """The settings, defaults filled in."""

    __slots__ = (
        "annotation_prefixes",
        "env_unprivileged",
        "env_variables",
        "log_file",
        "log_level",
        "nvidia_visible_devices",
        "path",
        "runtimes",
        "spec_dirs",
        "trust",
    )

    def __init__(self, path: str | None = None) -> None:
        #: The file read, ``None`` when there was none.
        self.path = path
        #: ``None``: the library's default (``CDI_SPEC_DIRS``, else /etc/cdi, /var/run/cdi).
        self.spec_dirs: list[str] | None = None
        self.runtimes = ["runc", "crun"]
        self.annotation_prefixes = ["cdi.k8s.io/"]
        #: ``None``: the default for the running user, ``strict`` for root
        #: (:func:`cdi.registry.trust.default_mode`; decided only when devices are injected).
        self.trust: str | None = None
        # Nothing on success: podman reads its oci-log as one JSON object.
        self.log_level = "warning"
        self.log_file = ""
        self.env_variables: list[str] = []
        self.nvidia_visible_devices = False
        self.env_unprivileged = False

    def registry_dirs(self, environ: Mapping[str, str]) -> list[str] | None:
        """The spec directories to use: ``CDI_SPEC_DIRS`` wins over the file."""
        if environ.get(SPEC_DIRS_ENV):
            return None  # the registry reads it itself
        return self.spec_dirs


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{key} must be a list of strings")
    return list(value)


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false")
    return value


def _apply(config: ShimConfig, document: dict[str, Any]) -> None:
    for key, value in document.items():
        if key == "spec-dirs":
            config.spec_dirs = _strings(value, key)
        elif key == "runtimes":
            config.runtimes = _strings(value, key)
            if not config.runtimes:
                raise ConfigError("runtimes must name at least one runtime")
        elif key == "annotation-prefixes":
            config.annotation_prefixes = _strings(value, key)
        elif key == "trust":
            config.trust = _choice(value, key, TRUST_MODES)
        elif key == "log-level":
            config.log_level = _choice(value, key, LOG_LEVELS)
        elif key == "log-file":
            if not isinstance(value, str):
                raise ConfigError("log-file must be a string")
            config.log_file = value
        elif key == "env":
            if not isinstance(value, dict):
                raise ConfigError("env must be a table ([env])")
            _apply_env(config, value)
        else:
            raise ConfigError(f"unknown key {key!r}")


def _apply_env(config: ShimConfig, table: dict[str, Any]) -> None:
    for key, value in table.items():
        if key == "variables":
            config.env_variables = _strings(value, "env.variables")
        elif key == "nvidia-visible-devices":
            config.nvidia_visible_devices = _boolean(value, "env.nvidia-visible-devices")
        elif key == "unprivileged":
            config.env_unprivileged = _boolean(value, "env.unprivileged")
        else:
            raise ConfigError(f"unknown key 'env.{key}'")


def _parse(text: str) -> dict[str, Any]:
    from cdi.shim.tomlsubset import parse

    document = parse(text)
    if document is None:  # outside the plain subset: the full parser decides
        import tomllib

        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(str(err)) from None
    return document


def load_config(environ: Mapping[str, str] | None = None) -> ShimConfig:
    """The configuration from ``$CDI_RUNTIME_CONFIG`` or the default path.

    Raises :class:`ConfigError` (``error loading config <path>: <reason>``)."""
    environ = os.environ if environ is None else environ
    path = environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return ShimConfig()
    except OSError as err:
        raise ConfigError(f"error loading config {path}: {err.strerror or err}") from None
    config = ShimConfig(path)
    try:
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"larger than {MAX_CONFIG_BYTES} bytes")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise ConfigError("not UTF-8 text") from None
        _apply(config, _parse(text))
    except ConfigError as err:
        raise ConfigError(f"error loading config {path}: {err}") from None
    return config
