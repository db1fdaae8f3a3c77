"""The bundle's ``config.json``: read as a plain mapping, written back in place, atomically.

The file is decoded into plain dicts and lists, not into a schema, so fields this project does
not know -- newer OCI versions, runtime extensions -- survive unchanged. It is replaced by a
temporary file in the same directory, renamed over it once complete and synced, with the
original's mode and owner (rootless engines' bundles belong to the user): a reader sees the
old file or the new one, never part of one. It is not synced: a bundle does not outlive its
container across a crash (engines write ``config.json`` again when they start a container
anew), and a sync would cost every container start milliseconds on a disk. ``state`` and the
hooks still report the bundle directory the engine chose, because the file is edited where
it is.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BundleError", "ConfigFile", "config_path"]

CONFIG_NAME = "config.json"

#: Larger than any real OCI spec (they are kilobytes); refused before it is read.
MAX_CONFIG_JSON_BYTES = 64 << 20


class BundleError(Exception):
    """``config.json`` cannot be read, understood or written (the message says which)."""


def config_path(bundle: str | None, config_file: str | None = None) -> str:
    """The absolute path of the spec file: ``--bundle`` (default: the current directory),
    and ``config.json`` or crun's ``--config`` name (relative to the bundle)."""
    directory = os.path.abspath(bundle if bundle else ".")
    return os.path.join(directory, config_file or CONFIG_NAME)


class ConfigFile:
    """One ``config.json``: its spec, and where and how to write it back."""

    __slots__ = ("info", "path", "spec")

    def __init__(self, path: str, spec: dict[str, Any], info: os.stat_result) -> None:
        self.path = path
        self.spec = spec
        self.info = info

    @classmethod
    def read(cls, path: str) -> ConfigFile:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise BundleError(f"error reading OCI specification {path}: {err.strerror}") from None
        try:
            info = os.fstat(fd)
            if info.st_size > MAX_CONFIG_JSON_BYTES:
                raise BundleError(
                    f"error reading OCI specification {path}: larger than "
                    f"{MAX_CONFIG_JSON_BYTES} bytes"
                )
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(fd)
        return cls(path, _decode(b"".join(chunks), path), info)

    def write(self, spec: dict[str, Any]) -> None:
        """Replace the file with *spec* (compact JSON), keeping its mode and owner."""
        from cdi.jsonout import dumps_compact

        data = (dumps_compact(spec) + "\n").encode()
        directory, name = os.path.split(self.path)
        # Random, not the pid: a temporary left by a killed shim must not block a new one.
        temporary = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.partial")
        try:
            self._write_new(temporary, data)
            os.rename(temporary, self.path)
        except OSError as err:
            try:  # noqa: SIM105 - contextlib is one import more on the start path
                os.unlink(temporary)
            except OSError:
                pass
            raise BundleError(
                f"error writing OCI specification {self.path}: {err.strerror}"
            ) from None

    def _write_new(self, path: str, data: bytes) -> None:
        mode = self.info.st_mode & 0o7777
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if (self.info.st_uid, self.info.st_gid) != (os.geteuid(), os.getegid()):
                os.fchown(fd, self.info.st_uid, self.info.st_gid)
            os.fchmod(fd, mode)  # after fchown, which clears set-id bits; and past the umask
        finally:
            os.close(fd)


def _decode(data: bytes, path: str) -> dict[str, Any]:
    from cdi.spec.cjson import NOT_JSON, scanner, whole_document

    try:
        text = data.decode()
        scan = scanner(
            object_pairs_hook=None, parse_int=int, parse_float=float, parse_constant=_no_constant
        )
        spec = whole_document(scan, text)
    except UnicodeDecodeError:
        raise BundleError(f"error reading OCI specification {path}: not UTF-8") from None
    except NOT_JSON:
        raise BundleError(f"error reading OCI specification {path}: not valid JSON") from None
    if not isinstance(spec, dict):
        raise BundleError(f"error reading OCI specification {path}: not a JSON object")
    return spec


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
