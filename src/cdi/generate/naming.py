"""Device names in generated specs, and the device identifiers users select devices with.

Each naming strategy gives every device one more name (the spec gets one entry per name,
with identical edits): ``index`` (``0``, MIG ``0:1``), ``type-index`` (``gpu0``, ``mig0:1``)
and ``uuid`` (NVML's ``GPU-…`` / ``MIG-…``). A MIG device's second number is the slot its
parent enumerates it under, not its GPU or compute instance id.

Identifiers (``--device-id``) are classified the way go-nvlib does it: a decimal index, a
``parent:slot`` MIG index, a ``GPU-<uuid>``, a ``MIG-<uuid>`` or the old
``MIG-GPU-<uuid>/<gi>/<ci>``, plus the words ``all`` and ``none``.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Iterable
from dataclasses import dataclass

from cdi.generate.errors import GenerateError
from cdi.gotext import quote

INDEX = "index"
TYPE_INDEX = "type-index"
UUID = "uuid"
STRATEGIES = (INDEX, UUID, TYPE_INDEX)

_MAX_UINT64 = 2**64 - 1
_HEX = frozenset(string.hexdigits)


class DeviceNameStrategyError(GenerateError, ValueError):
    """A naming strategy that does not exist."""


class DeviceIdError(GenerateError, ValueError):
    """A device identifier that is neither an index nor a UUID (nor ``all``/``none``)."""


def check_strategies(strategies: Iterable[str]) -> tuple[str, ...]:
    """The strategies in order, each once; raises for an unknown one (nvidia-ctk's text)."""
    checked: dict[str, None] = {}
    for strategy in strategies:
        if strategy not in STRATEGIES:
            raise DeviceNameStrategyError(f"invalid device name strategy: {strategy}")
        checked[strategy] = None
    return tuple(checked)


def device_names(strategies: Iterable[str], index: int, uuid: str) -> list[str]:
    """The names of full GPU *index* with NVML UUID *uuid*, one per strategy.

    A strategy given twice names the device once: two entries of one name would make the
    spec invalid.
    """
    names: dict[str, None] = {}
    for strategy in check_strategies(strategies):
        if strategy == INDEX:
            names[str(index)] = None
        elif strategy == TYPE_INDEX:
            names[f"gpu{index}"] = None
        else:
            names[uuid] = None
    return list(names)


def mig_device_names(
    strategies: Iterable[str], parent_index: int, mig_index: int, uuid: str
) -> list[str]:
    """The names of MIG device *mig_index* of GPU *parent_index*, one per strategy."""
    names: dict[str, None] = {}
    for strategy in check_strategies(strategies):
        if strategy == INDEX:
            names[f"{parent_index}:{mig_index}"] = None
        elif strategy == TYPE_INDEX:
            names[f"mig{parent_index}:{mig_index}"] = None
        else:
            names[uuid] = None
    return list(names)


class IdKind(enum.Enum):
    """What a device identifier names."""

    ALL = "all"
    NONE = "none"
    GPU_INDEX = "gpu-index"
    MIG_INDEX = "mig-index"
    GPU_UUID = "gpu-uuid"
    MIG_UUID = "mig-uuid"


@dataclass(frozen=True)
class DeviceId:
    """A classified identifier: the text as given, and the numbers of an index form
    (``gpu`` for a GPU index or a MIG parent, ``mig`` for the MIG slot)."""

    kind: IdKind
    text: str
    gpu: int | None = None
    mig: int | None = None


def _is_uint(text: str) -> bool:
    # Go's strconv.ParseUint(text, 10, 64): ASCII digits only, no sign, no underscores.
    return bool(text) and text.isascii() and text.isdigit() and int(text) <= _MAX_UINT64


def _is_hex(text: str) -> bool:
    return all(char in _HEX for char in text)


def is_uuid(text: str) -> bool:
    """Whether *text* parses as a UUID the way Go's ``github.com/google/uuid`` takes one:
    ``8-4-4-4-12`` hex digits, optionally braced or ``urn:uuid:``-prefixed, or 32 digits."""
    if len(text) == 36 + 9 and text[:9].lower() == "urn:uuid:":
        text = text[9:]
    elif len(text) == 38 and text[0] == "{" and text[-1] == "}":
        text = text[1:-1]
    if len(text) == 32:
        return _is_hex(text)
    if len(text) != 36 or any(text[i] != "-" for i in (8, 13, 18, 23)):
        return False
    return _is_hex(text.replace("-", ""))


def _is_gpu_uuid(text: str) -> bool:
    return text.startswith("GPU-") and is_uuid(text[4:])


def _is_mig_uuid(text: str) -> bool:
    if not text.startswith("MIG-"):
        return False
    rest = text[4:]
    if is_uuid(rest):
        return True
    parts = rest.split("/")
    return len(parts) == 3 and _is_gpu_uuid(parts[0]) and all(map(_is_uint, parts[1:]))


def parse_device_id(text: str) -> DeviceId:
    """Classify one ``--device-id`` value; raises :class:`DeviceIdError` for anything else."""
    if text == IdKind.ALL.value:
        return DeviceId(IdKind.ALL, text)
    if text == IdKind.NONE.value:
        return DeviceId(IdKind.NONE, text)
    if _is_uint(text):
        return DeviceId(IdKind.GPU_INDEX, text, gpu=int(text))
    if _is_gpu_uuid(text):
        return DeviceId(IdKind.GPU_UUID, text)
    if _is_mig_uuid(text):
        return DeviceId(IdKind.MIG_UUID, text)
    parts = text.split(":")
    if len(parts) == 2 and all(map(_is_uint, parts)):
        return DeviceId(IdKind.MIG_INDEX, text, gpu=int(parts[0]), mig=int(parts[1]))
    raise DeviceIdError(f"identifier is not a valid UUID or index: {quote(text)}")
