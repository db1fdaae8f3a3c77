"""The on-demand installers this project ships, for the policy builds use.

Kept apart from :mod:`cdi.policy.devices` so that the policy can be used (and tested) with
any installers, and the installers' imports load only when a policy is built from a
configuration.
"""

from __future__ import annotations

from cdi.policy.nvidia_installer import NvidiaInstaller
from cdi.policy.ondemand import OnDemandInstaller
from cdi.policy.venus_installer import VenusInstaller


def default_installers(host_root: str, spec_dir: str) -> dict[str, OnDemandInstaller]:
    """``nvidia.com/gpu`` and ``docker.com/gpu`` (BuildKit's contrib installers) by kind,
    checking the host under *host_root* and writing their specs into *spec_dir*."""
    installers: list[OnDemandInstaller] = [
        NvidiaInstaller(host_root, spec_dir=spec_dir),
        VenusInstaller(host_root, spec_dir=spec_dir),
    ]
    return {installer.kind: installer for installer in installers}
