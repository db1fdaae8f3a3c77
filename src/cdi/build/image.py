"""The image configuration a build produces (the OCI image config's ``config`` and friends).

Each stage starts from its base image's configuration (or an empty one for ``scratch`` and
plain directories) and ENV, WORKDIR, USER, SHELL, LABEL, CMD, ENTRYPOINT, EXPOSE, VOLUME,
STOPSIGNAL and MAINTAINER change it the way BuildKit's Dockerfile frontend does; the final
stage's configuration goes into an OCI image output.
"""

from __future__ import annotations

import copy
import os

from cdi.build.mutable import field, mutable_record
from cdi.runtime import DEFAULT_PATH

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SHELL = ("/bin/sh", "-c")

_ARCHITECTURES = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i686": ("386", ""),
    "i386": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


def host_platform() -> tuple[str, str, str]:
    """(os, architecture, variant) of this machine in OCI terms (``linux``, ``amd64``, ``""``)."""
    machine = os.uname().machine.lower()  # platform.machine(), without platform's import
    arch, variant = _ARCHITECTURES.get(machine, (machine, ""))
    return "linux", arch, variant


def format_platform(os_name: str, arch: str, variant: str) -> str:
    return "/".join(part for part in (os_name, arch, variant) if part)


@mutable_record
class ImageConfig:
    """The mutable configuration of a stage's image."""

    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    exposed_ports: dict[str, Any] = field(default_factory=dict)
    volumes: dict[str, Any] = field(default_factory=dict)
    stop_signal: str = ""
    shell: list[str] | None = None
    onbuild: list[str] = field(default_factory=list)
    author: str = ""
    os: str = "linux"
    architecture: str = field(default_factory=lambda: host_platform()[1])
    variant: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    #: The rest of the base image's ``config`` (Healthcheck, ArgsEscaped, ...), kept as is.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def scratch(cls) -> ImageConfig:
        """The configuration of an empty image: just the default ``PATH``, as BuildKit sets."""
        _, arch, variant = host_platform()
        return cls(env=[f"PATH={DEFAULT_PATH}"], architecture=arch, variant=variant)

    @classmethod
    def from_oci(cls, document: dict[str, Any]) -> ImageConfig:
        """From an OCI (or Docker) image config JSON document."""
        config = dict(document.get("config") or {})
        image = cls(
            env=[str(e) for e in config.pop("Env", None) or []],
            working_dir=str(config.pop("WorkingDir", "") or ""),
            user=str(config.pop("User", "") or ""),
            cmd=_string_list(config.pop("Cmd", None)),
            entrypoint=_string_list(config.pop("Entrypoint", None)),
            labels={str(k): str(v) for k, v in (config.pop("Labels", None) or {}).items()},
            exposed_ports=dict(config.pop("ExposedPorts", None) or {}),
            volumes=dict(config.pop("Volumes", None) or {}),
            stop_signal=str(config.pop("StopSignal", "") or ""),
            shell=_string_list(config.pop("Shell", None)),
            onbuild=[str(x) for x in config.pop("OnBuild", None) or []],
            author=str(document.get("author", "") or ""),
            os=str(document.get("os", "linux") or "linux"),
            architecture=str(document.get("architecture", "") or host_platform()[1]),
            variant=str(document.get("variant", "") or ""),
            history=[dict(h) for h in document.get("history") or [] if isinstance(h, dict)],
            extra=config,
        )
        if image.get_env("PATH") is None:
            image.env.insert(0, f"PATH={DEFAULT_PATH}")
        return image

    def clone(self) -> ImageConfig:
        return copy.deepcopy(self)

    # --- environment ---------------------------------------------------------------------------

    def get_env(self, name: str) -> str | None:
        for entry in self.env:
            key, _, value = entry.partition("=")
            if key == name:
                return value
        return None

    def set_env(self, name: str, value: str) -> None:
        """Set *name*, replacing an earlier value in place (its position is kept)."""
        for index, entry in enumerate(self.env):
            if entry.partition("=")[0] == name:
                self.env[index] = f"{name}={value}"
                return
        self.env.append(f"{name}={value}")

    def env_map(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for entry in self.env:
            key, _, value = entry.partition("=")
            result[key] = value
        return result

    # --- helpers -------------------------------------------------------------------------------

    @property
    def shell_or_default(self) -> list[str]:
        return list(self.shell) if self.shell else list(DEFAULT_SHELL)

    @property
    def platform(self) -> str:
        return format_platform(self.os, self.architecture, self.variant)

    def add_history(self, created_by: str, *, empty_layer: bool, created: str) -> None:
        entry: dict[str, Any] = {
            "created": created,
            "created_by": created_by,
            "comment": "cdi build",
        }
        if empty_layer:
            entry["empty_layer"] = True
        self.history.append(entry)

    def to_oci(self, diff_ids: list[str], created: str) -> dict[str, Any]:
        """The OCI image config document with *diff_ids* as its layers."""
        config: dict[str, Any] = dict(self.extra)
        if self.user:
            config["User"] = self.user
        if self.exposed_ports:
            config["ExposedPorts"] = self.exposed_ports
        config["Env"] = list(self.env)
        if self.entrypoint is not None:
            config["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            config["Cmd"] = list(self.cmd)
        if self.volumes:
            config["Volumes"] = self.volumes
        if self.working_dir:
            config["WorkingDir"] = self.working_dir
        if self.labels:
            config["Labels"] = dict(self.labels)
        if self.stop_signal:
            config["StopSignal"] = self.stop_signal
        if self.shell:
            config["Shell"] = list(self.shell)
        document: dict[str, Any] = {"created": created}
        if self.author:
            document["author"] = self.author
        document["architecture"] = self.architecture
        document["os"] = self.os
        if self.variant:
            document["variant"] = self.variant
        document["config"] = config
        document["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}
        # The output has one squashed layer: the history must account for exactly that many
        # non-empty entries, so earlier entries are all marked empty and one is added.
        history = [dict(h, empty_layer=True) for h in self.history]
        history.append(
            {
                "created": created,
                "created_by": "cdi build: the root filesystem as one layer",
                "comment": "cdi build",
            }
        )
        document["history"] = history
        return document


def _string_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]
