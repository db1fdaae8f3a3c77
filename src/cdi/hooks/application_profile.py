"""``update-application-profile``: tell the driver's EGL which GPUs the container has.

The GPUs are the character devices ``/dev/nvidia<N>`` of the container (lstat of the
entries of its ``/dev``, so links are not counted); their minor numbers below 64 make a
bitmask, and when it is not empty an application profile setting ``EGLVisibleDGPUDevices``
to it for every program is written (directories created 0555, file 0444). Without any such
device nothing is written.
"""

from __future__ import annotations

import os
import re
import stat

from cdi.hooks.errors import HookError
from cdi.hooks.rootfs import ContainerRoot

FLAGS: dict[str, str] = {}
PROFILE_PATH = "/etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf"
_DEVICE_NAME = re.compile(r"nvidia[0-9]+")
_MAX_MINOR = 64  # the driver's mask is 64 bits wide


def device_mask(root: ContainerRoot) -> int:
    """The bitmask of the minor numbers of the container's ``/dev/nvidia<N>`` devices."""
    try:
        entries = root.entries("/dev")
    except (FileNotFoundError, NotADirectoryError):
        return 0
    mask = 0
    for name, status in entries:
        if _DEVICE_NAME.fullmatch(name) and stat.S_ISCHR(status.st_mode):
            minor = os.minor(status.st_rdev)
            if minor < _MAX_MINOR:
                mask |= 1 << minor
    return mask


def profile_text(mask: int) -> str:
    """The profile line (the driver's JSON dialect: the value is a hexadecimal number)."""
    return (
        '{"rules": [{"pattern": [], "profile": "_container_"}], '
        '"profiles": [{"name": "_container_", '
        f'"settings": ["EGLVisibleDGPUDevices", 0x{mask:x}]}}]}}\n'
    )


def update_application_profile(root: ContainerRoot) -> bool:
    """Write the profile for the devices of *root*; False when there are none."""
    mask = device_mask(root)
    if not mask:
        return False
    try:
        root.write_file(PROFILE_PATH, profile_text(mask).encode(), 0o444, parent_mode=0o555)
    except OSError as exc:
        raise HookError(f"cannot write {PROFILE_PATH}: {exc.strerror}") from None
    return True


def run(root: ContainerRoot, options: dict[str, list[str] | bool]) -> None:
    """The ``update-application-profile`` subcommand."""
    update_application_profile(root)
