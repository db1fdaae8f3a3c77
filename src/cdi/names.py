"""Qualified device names: ``<vendor>/<class>=<name>``.

The rules are the reference parser's ASCII rules (no length limits, no DNS-label checks):
vendor and class start with a letter, end with a letter or digit and may contain ``_ - .`` in
between; a device name may also start with a digit and may contain ``:``. Error texts are the
reference's, typos included ("invalid class" for a device name).
"""

from __future__ import annotations

from cdi.errors import InvalidNameError
from cdi.gotext import go_bytes, quote

__all__ = [
    "ALPHANUMERICS",
    "DEVICE_CHARACTERS",
    "LETTERS",
    "VENDOR_OR_CLASS_CHARACTERS",
    "is_qualified_name",
    "parse_device",
    "parse_qualified_name",
    "parse_qualifier",
    "qualified_name",
    "validate_class_name",
    "validate_device_name",
    "validate_vendor_name",
]

#: The characters of the name rules (ASCII only), for checks made elsewhere too.
LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
ALPHANUMERICS = LETTERS | frozenset("0123456789")
VENDOR_OR_CLASS_CHARACTERS = ALPHANUMERICS | frozenset("_.-")
DEVICE_CHARACTERS = VENDOR_OR_CLASS_CHARACTERS | frozenset(":")


# Fast paths (set look-ups, not ``re``, which a new process would pay ~10 ms to import): true
# means valid; anything else goes through the detailed checks that produce the reference's
# message. A name of one character is both its first and its last.
def _is_valid_vendor_or_class(name: str) -> bool:
    return (
        name != ""
        and name[0] in LETTERS
        and name[-1] in ALPHANUMERICS
        and VENDOR_OR_CLASS_CHARACTERS.issuperset(name)
    )


def _is_valid_device(name: str) -> bool:
    return (
        name != ""
        and name[0] in ALPHANUMERICS
        and name[-1] in ALPHANUMERICS
        and DEVICE_CHARACTERS.issuperset(name)
    )


def _is_letter(char: str) -> bool:
    return ("a" <= char <= "z") or ("A" <= char <= "Z")


def _is_alphanumeric(char: str) -> bool:
    return _is_letter(char) or ("0" <= char <= "9")


def _inner(name: str) -> str:
    """The characters between the first and last *byte*, as Go slices a string."""
    return go_bytes(name)[1:-1].decode(errors="replace")


def _first_byte(name: str) -> str:
    return chr(go_bytes(name)[0])


def _last_byte(name: str) -> str:
    return chr(go_bytes(name)[-1])


def _vendor_or_class_problem(name: str) -> str | None:
    if _is_valid_vendor_or_class(name):
        return None
    if not name:
        return "empty name"
    if not _is_letter(_first_byte(name)):
        return f"{quote(name)}, should start with letter"
    for char in _inner(name):
        if not (_is_alphanumeric(char) or char in "_-."):
            return f"invalid character '{char}' in name {quote(name)}"
    if not _is_alphanumeric(_last_byte(name)):
        return f"{quote(name)}, should end with a letter or digit"
    return None


def validate_vendor_name(vendor: str) -> None:
    """Raise :class:`InvalidNameError` unless *vendor* is a valid vendor name."""
    problem = _vendor_or_class_problem(vendor)
    if problem is not None:
        raise InvalidNameError(f"invalid vendor. {problem}")


def validate_class_name(cls: str) -> None:
    """Raise :class:`InvalidNameError` unless *cls* is a valid class name."""
    problem = _vendor_or_class_problem(cls)
    if problem is not None:
        raise InvalidNameError(f"invalid class. {problem}")


def validate_device_name(name: str) -> None:
    """Raise :class:`InvalidNameError` unless *name* is a valid device name."""
    if _is_valid_device(name):
        return
    if not name:
        raise InvalidNameError("invalid (empty) device name")
    if not _is_alphanumeric(_first_byte(name)):
        raise InvalidNameError(f"invalid class {quote(name)}, should start with a letter or digit")
    if len(go_bytes(name)) == 1:
        return
    for char in _inner(name):
        if not (_is_alphanumeric(char) or char in "_-.:"):
            raise InvalidNameError(f"invalid character '{char}' in device name {quote(name)}")
    if not _is_alphanumeric(_last_byte(name)):
        raise InvalidNameError(f"invalid name {quote(name)}, should end with a letter or digit")


def validate_kind(kind: str) -> None:
    """Raise :class:`InvalidNameError` unless *kind* is ``vendor.com/class`` with a valid
    vendor and class (the kind of a spec a tool writes or serves)."""
    vendor, slash, cls = kind.partition("/")
    if not slash:
        raise InvalidNameError(f"invalid kind {quote(kind)}: expected vendor.com/class")
    try:
        validate_vendor_name(vendor)
        validate_class_name(cls)
    except InvalidNameError as exc:
        raise InvalidNameError(f"invalid kind {quote(kind)}: {exc}") from None


def qualified_name(vendor: str, cls: str, name: str) -> str:
    """Join the parts into ``vendor/class=name`` (no validation)."""
    return f"{vendor}/{cls}={name}"


def parse_qualifier(kind: str) -> tuple[str, str]:
    """Split ``vendor/class`` at the first ``/``; ``("", kind)`` when that is not possible."""
    vendor, slash, cls = kind.partition("/")
    if not slash or not vendor or not cls:
        return "", kind
    return vendor, cls


def parse_device(device: str) -> tuple[str, str, str]:
    """Split a device reference without validating it.

    Returns ``("", "", device)`` for anything that is not shaped like a qualified name (empty,
    a path, no ``=``, an empty side, or no vendor).
    """
    if not device or device.startswith("/"):
        return "", "", device
    kind, equals, name = device.partition("=")
    if not equals or not kind or not name:
        return "", "", device
    vendor, cls = parse_qualifier(kind)
    if not vendor:
        return "", "", device
    return vendor, cls, name


def parse_qualified_name(device: str) -> tuple[str, str, str]:
    """Split and validate a qualified device name into ``(vendor, class, name)``."""
    vendor, cls, name = parse_device(device)
    for part, what in ((vendor, "vendor"), (cls, "class"), (name, "device name")):
        if not part:
            raise InvalidNameError(f"unqualified device {quote(device)}, missing {what}")
    try:
        validate_vendor_name(vendor)
        validate_class_name(cls)
        validate_device_name(name)
    except InvalidNameError as err:
        raise InvalidNameError(f"invalid device {quote(device)}: {err}") from None
    return vendor, cls, name


def is_qualified_name(device: str) -> bool:
    """Whether *device* is a valid qualified device name."""
    try:
        parse_qualified_name(device)
    except InvalidNameError:
        return False
    return True
