"""The transient CDI spec of a prepared claim: its names, its content, and the file on disk.

A prepared claim is one spec file in the CDI root (``/var/run/cdi``: tmpfs, cleared on reboot,
scanned by the runtimes), named as the producer names transient specs:
``k8s.<driver>-claim_<claimUID>.yaml``. Its vendor is ``k8s.<driver>`` and its class ``claim``
(as NVIDIA's DRA driver has it); each allocated device is a spec device ``<claimUID>-<device>``,
so that the claims of one node never collide. The file is the plugin's only state: prepared
means the file exists, so an agent that restarts knows what an earlier one prepared.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.producer import remove_spec, transient_spec_name, write_spec
from cdi.spec.model import ContainerEdits, Device, Spec
from cdi.spec.record import replace
from cdi.spec.version import minimum_version

CLAIM_CLASS = "claim"
SPEC_EXTENSION = ".yaml"
#: The API's limit on a DRA driver name (``resource.k8s.io``: a DNS subdomain of at most 63).
MAX_DRIVER_NAME = 63

_LABEL_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class DriverNameError(CDIError, ValueError):
    """A name the API server does not take as a DRA driver name."""


def check_driver_name(driver: str) -> str:
    """*driver* when it is a DRA driver name: a DNS subdomain (lower-case labels of letters,
    digits and ``-``, joined by ``.``) of at most 63 characters, such as ``gpu.example.com``.
    Such a name also makes the CDI vendor ``k8s.<driver>`` and socket file names valid."""
    labels = driver.split(".")
    if not driver or len(driver) > MAX_DRIVER_NAME:
        problem = f"want 1 to {MAX_DRIVER_NAME} characters"
    elif not all(
        label and _LABEL_CHARACTERS.issuperset(label) and "-" not in (label[0], label[-1])
        for label in labels
    ):
        problem = (
            "want a DNS subdomain: lower-case letters, digits, '-' and '.', such as gpu.example.com"
        )
    else:
        return driver
    raise DriverNameError(f"invalid driver name {quote(driver)}: {problem}")


def claim_vendor(driver: str) -> str:
    """The CDI vendor of *driver*'s claim specs (``k8s.<driver>``)."""
    return f"k8s.{driver}"


def claim_kind(driver: str) -> str:
    return f"{claim_vendor(driver)}/{CLAIM_CLASS}"


def claim_spec_file(driver: str, claim_uid: str) -> str:
    """The file name of the claim's spec, e.g. ``k8s.gpu.example.com-claim_<uid>.yaml``."""
    return transient_spec_name(claim_vendor(driver), CLAIM_CLASS, claim_uid) + SPEC_EXTENSION


def claim_device_name(claim_uid: str, device: str) -> str:
    """The spec device that stands for *device* in the claim (``<claimUID>-<device>``)."""
    return f"{claim_uid}-{device}"


def claim_device_id(driver: str, claim_uid: str, device: str) -> str:
    """The CDI device id the kubelet hands the runtime: ``k8s.<driver>/claim=<uid>-<device>``."""
    return f"{claim_kind(driver)}={claim_device_name(claim_uid, device)}"


def resource_claim_env(device: str, claim_uid: str) -> str:
    """``<DEVICE>_RESOURCE_CLAIM=<claimUID>``: tells the container which claim gave it
    *device* (upper-cased; anything but ASCII letters and digits becomes ``_``)."""
    key = "".join(c if c.isascii() and c.isalnum() else "_" for c in device.upper())
    return f"{key}_RESOURCE_CLAIM={claim_uid}"


def claim_spec(driver: str, claim_uid: str, devices: Sequence[tuple[str, ContainerEdits]]) -> Spec:
    """The claim's spec: one device per ``(device, edits)``, each with its edits and the
    ``RESOURCE_CLAIM`` variable; ``cdiVersion`` the oldest that expresses it."""
    spec_devices = tuple(
        Device(
            name=claim_device_name(claim_uid, device),
            container_edits=replace(edits, env=(*edits.env, resource_claim_env(device, claim_uid))),
        )
        for device, edits in devices
    )
    draft = Spec(cdi_version="1.0.0", kind=claim_kind(driver), devices=spec_devices)
    return replace(draft, cdi_version=minimum_version(draft))


class ClaimSpecs:
    """The claim specs of one driver in the CDI root *root*."""

    def __init__(self, root: str | os.PathLike[str], driver: str) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.driver = driver
        self._prefix = transient_spec_name(claim_vendor(driver), CLAIM_CLASS, "")

    def path(self, claim_uid: str) -> str:
        return os.path.join(self.root, claim_spec_file(self.driver, claim_uid))

    def write(self, claim_uid: str, devices: Sequence[tuple[str, ContainerEdits]]) -> str:
        """Write the claim's spec atomically (0644), replacing an earlier one; its path.
        Raises :class:`~cdi.errors.SpecError` (invalid) or :class:`~cdi.errors.SpecWriteError`."""
        spec = claim_spec(self.driver, claim_uid, devices)
        return write_spec(spec, self.root, claim_spec_file(self.driver, claim_uid))

    def remove(self, claim_uid: str) -> None:
        """Remove the claim's spec; a missing one is fine. Raises ``SpecWriteError``."""
        remove_spec(self.root, claim_spec_file(self.driver, claim_uid))

    def list(self) -> list[str]:
        """The UIDs of the claims whose spec is on disk, sorted."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return sorted(
            name[len(self._prefix) : -len(SPEC_EXTENSION)]
            for name in names
            if name.startswith(self._prefix)
            and name.endswith(SPEC_EXTENSION)
            and len(name) > len(self._prefix) + len(SPEC_EXTENSION)
        )
