"""Build contexts and the sources of base images.

A build reads files from its *main context* (the ``CONTEXT`` directory, filtered by
``.dockerignore``) and from *named contexts* given as ``--build-context NAME=SRC``, with the
sources Buildx accepts:

* ``NAME=DIR`` -- a local directory: as a ``FROM`` base it is the root filesystem itself (with
  an empty image configuration), for ``COPY --from=NAME`` a directory to copy from;
* ``NAME=oci-layout://PATH[:TAG|@sha256:DIGEST]`` -- an image in an OCI image layout directory;
* ``NAME=docker-archive://PATH`` -- an image in a ``docker save`` archive;
* ``NAME=docker-image://REF`` -- an image pulled from a registry (with ``skopeo``).

A ``FROM``/``COPY --from`` that names neither a stage nor a named context is an image
reference: it is pulled with ``skopeo`` when that is installed, and is an error otherwise.
Every blob read from a layout is checked against its digest.
"""

from __future__ import annotations

import io
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from cdi.build.errors import SourceError
from cdi.build.fs import Root
from cdi.build.ignore import IgnoreMatcher
from cdi.build.image import ImageConfig, format_platform, host_platform
from cdi.spec.record import record

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Mapping
    from typing import IO, Any

# hashlib, json, tarfile, subprocess and the layer unpacker are imported by the sources that
# use them (image layouts, archives, registries): a build from a directory loads none of them.

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"

# The reference grammar's parts are checked by hand: compiling them with ``re`` took a third
# of the work of a build served from the cache.
_HEX = frozenset("0123456789abcdef")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def is_digest(text: str) -> bool:
    """``sha256:`` and 64 lower-case hex digits."""
    return len(text) == 71 and text.startswith("sha256:") and _HEX.issuperset(text[7:])


def _is_tag(text: str) -> bool:
    r"""Docker's ``[\w][\w.-]{0,127}`` (ASCII, as Go reads it)."""
    return 0 < len(text) <= 128 and text[0] in _WORD and _WORD.union(".-").issuperset(text)


def _is_path_component(text: str) -> bool:
    """Docker's ``[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*``: alphanumeric runs joined by one
    ``.``, one or two ``_``, or any number of ``-``."""
    if not text or text[0] not in _ALNUM or text[-1] not in _ALNUM:
        return False
    separator = ""
    for char in text:
        if char in _ALNUM:
            separator = ""
            continue
        separator += char
        if not (separator in (".", "_", "__") or set(separator) == {"-"}):
            return False
    return True


_MAX_JSON = 16 << 20

#: Reports progress lines while a source is fetched or unpacked.
StatusCallback = Callable[[str], None]


# --- image references ---------------------------------------------------------------------------


@record
class ImageReference:
    """A normalized Docker image reference (``docker.io/library/busybox:latest``)."""

    domain: str
    path: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Normalize as Docker does; raises :class:`SourceError` for an invalid reference."""
        original = text
        digest = None
        if "@" in text:
            text, digest = text.split("@", 1)
            if not is_digest(digest):
                raise SourceError(f"invalid reference format: {original}")
        tag = None
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            text, tag = text.rsplit(":", 1)
            if not _is_tag(tag):
                raise SourceError(f"invalid reference format: {original}")
        first, sep, rest = text.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            domain, path = first, rest
        else:
            domain, path = "docker.io", text
        if domain == "index.docker.io":
            domain = "docker.io"
        if domain == "docker.io" and "/" not in path:
            path = "library/" + path
        if not all(_is_path_component(part) for part in path.split("/")):
            raise SourceError(f"invalid reference format: {original}")
        if tag is None and digest is None:
            tag = "latest"
        return cls(domain, path, tag, digest)

    def __str__(self) -> str:
        text = f"{self.domain}/{self.path}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        """The short form Docker shows (``busybox``, ``user/app:1``), without ``:latest``."""
        path = self.path
        if self.domain == "docker.io":
            path = path.removeprefix("library/")
            text = path
        else:
            text = f"{self.domain}/{path}"
        if self.tag and self.tag != "latest":
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def context_key(name: str) -> str:
    """The key a ``FROM``/``--from`` name and a ``--build-context`` name are matched by.

    Image-like names match in their familiar form, so ``busybox``, ``busybox:latest`` and
    ``docker.io/library/busybox`` are the same context, as in BuildKit.
    """
    try:
        return ImageReference.parse(name).familiar
    except SourceError:
        return name


# --- sources ------------------------------------------------------------------------------------


class Source(ABC):
    """Where a base image (or a ``COPY --from`` filesystem) comes from."""

    #: How progress output names it (``docker.io/library/busybox:latest``, ``context busybox``).
    description: str

    @abstractmethod
    def image_config(self) -> ImageConfig | None:
        """The image configuration (None for a plain directory). Reads metadata only."""

    @abstractmethod
    def unpack(self, dest: Root, status: StatusCallback) -> None:
        """Write the root filesystem into the empty directory *dest*."""

    def directory(self) -> Path | None:
        """A directory that already is the root filesystem, to read from in place."""
        return None

    @abstractmethod
    def cache_material(self) -> Any:
        """What the root filesystem is, as plain data for its cache key: content digests,
        read without unpacking anything."""


class DirectorySource(Source):
    """A local directory given as a named build context."""

    def __init__(self, name: str, path: Path) -> None:
        if not path.is_dir():
            raise SourceError(f"build context {name}: {path} is not a directory")
        self.name = name
        self.path = path.absolute()
        self.description = f"context {name}"
        self.ignore = IgnoreMatcher.from_file(self.path / ".dockerignore")

    def image_config(self) -> ImageConfig | None:
        return None

    def unpack(self, dest: Root, status: StatusCallback) -> None:
        from cdi.build.fs import CopyOptions, copy_entry

        options = CopyOptions(exclude=self.ignore.excludes if self.ignore else None)
        count = copy_entry(self.path, dest, "/", options, contents_only=True)
        status(f"transferring {self.name}: {count} files done")

    def directory(self) -> Path | None:
        return self.path

    def cache_material(self) -> Any:
        from cdi.build.cache.digest import tree_digest

        exclude = self.ignore.excludes if self.ignore else None
        return {"directory": tree_digest(self.path, "", exclude=exclude)}


def _read_json(stream: IO[bytes], what: str) -> Any:
    import json

    data = stream.read(_MAX_JSON + 1)
    if len(data) > _MAX_JSON:
        raise SourceError(f"{what} is too large")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise SourceError(f"{what} is not valid JSON: {exc}") from exc


def _platform_matches(descriptor: Mapping[str, Any]) -> bool:
    wanted_os, wanted_arch, wanted_variant = host_platform()
    plat = descriptor.get("platform") or {}
    if plat.get("os", wanted_os) != wanted_os or plat.get("architecture") != wanted_arch:
        return False
    variant = plat.get("variant", "")
    return not wanted_variant or not variant or variant == wanted_variant


class OCILayoutSource(Source):
    """An image in an OCI image layout directory, selected by tag or digest."""

    def __init__(
        self, path: Path, *, tag: str | None = None, digest: str | None = None, name: str = ""
    ) -> None:
        self.path = path.absolute()
        self.tag = tag
        self.digest = digest
        if not (self.path / "index.json").is_file():
            raise SourceError(f"{path} is not an OCI image layout (no index.json)")
        selector = f"@{digest}" if digest else f":{tag}" if tag else ""
        self.description = name or f"oci-layout://{self.path}{selector}"
        self._manifest: dict[str, Any] | None = None
        self._config: dict[str, Any] | None = None

    def blob_path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise SourceError(f"unsupported or invalid digest {digest!r} in {self.path}")
        return self.path / "blobs" / "sha256" / digest.split(":", 1)[1]

    def read_blob(self, digest: str, what: str) -> bytes:
        import hashlib

        try:
            data = self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise SourceError(f"{self.description}: {what} blob {digest} not found") from None
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise SourceError(f"{self.description}: {what} blob {digest} does not match its digest")
        return data

    def _blob_json(self, digest: str, what: str) -> Any:
        import json

        data = self.read_blob(digest, what)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise SourceError(f"{self.description}: {what} is not valid JSON: {exc}") from exc

    def _select(self, index: Mapping[str, Any], top: bool) -> dict[str, Any]:
        manifests = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
        if top and self.digest:
            for descriptor in manifests:
                if descriptor.get("digest") == self.digest:
                    return descriptor
            return {"digest": self.digest, "mediaType": ""}
        if top:
            tagged = [
                m
                for m in manifests
                if (m.get("annotations") or {}).get(REF_NAME) == (self.tag or "latest")
                or str((m.get("annotations") or {}).get(CONTAINERD_NAME, "")).endswith(
                    f":{self.tag or 'latest'}"
                )
            ]
            if tagged:
                return tagged[0]
            if self.tag:
                raise SourceError(f"{self.description}: no image tagged {self.tag}")
            if len(manifests) == 1:
                return manifests[0]
            raise SourceError(
                f"{self.description}: the layout holds {len(manifests)} images: "
                "select one with :TAG or @sha256:DIGEST"
            )
        for descriptor in manifests:
            if _platform_matches(descriptor):
                return descriptor
        raise SourceError(
            f"{self.description}: no image for platform {format_platform(*host_platform())}"
        )

    def manifest(self) -> dict[str, Any]:
        if self._manifest is not None:
            return self._manifest
        try:
            with open(self.path / "index.json", "rb") as handle:
                document = _read_json(handle, f"{self.path}/index.json")
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}/index.json: {exc}") from exc
        descriptor = self._select(document, top=True)
        for _ in range(4):
            digest = str(descriptor.get("digest", ""))
            document = self._blob_json(digest, "manifest")
            media = document.get("mediaType") or descriptor.get("mediaType") or ""
            if media in (MEDIA_INDEX, DOCKER_LIST) or "manifests" in document:
                descriptor = self._select(document, top=False)
                continue
            self._manifest = dict(document)
            return self._manifest
        raise SourceError(f"{self.description}: image indexes nest too deeply")

    def image_config(self) -> ImageConfig:
        if self._config is None:
            config = self.manifest().get("config") or {}
            self._config = dict(self._blob_json(str(config.get("digest", "")), "config"))
        return ImageConfig.from_oci(self._config)

    def cache_material(self) -> Any:
        # Layer digests are checked while a layer is unpacked: a cached base was checked.
        layers = self.manifest().get("layers") or []
        return {"layers": [str(layer.get("digest", "")) for layer in layers]}

    def unpack(self, dest: Root, status: StatusCallback) -> None:
        from cdi.build.layers import apply_layer

        layers = self.manifest().get("layers") or []
        for number, layer in enumerate(layers, 1):
            digest = str(layer.get("digest", ""))
            path = self.blob_path(digest)
            status(f"extracting {digest} {number}/{len(layers)}")
            if not path.is_file():
                raise SourceError(f"{self.description}: layer blob {digest} not found")
            with open(path, "rb") as handle:
                hasher = _HashingReader(handle)
                reader = io.BufferedReader(hasher)
                apply_layer(reader, dest)
                while reader.read(1 << 20):
                    pass
            if hasher.digest() != digest:
                raise SourceError(
                    f"{self.description}: layer blob {digest} does not match its digest"
                )


class _HashingReader(io.RawIOBase):
    """A raw binary reader that hashes everything read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        import hashlib

        super().__init__()
        self.raw = raw
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


class DockerArchiveSource(Source):
    """An image in a ``docker save`` tar archive (its ``manifest.json``)."""

    def __init__(self, path: Path, *, name: str = "") -> None:
        self.path = path.absolute()
        if not self.path.is_file():
            raise SourceError(f"docker archive {path} does not exist")
        self.description = name or f"docker-archive://{self.path}"
        self._entry: dict[str, Any] | None = None

    def _open(self) -> tarfile.TarFile:
        import tarfile

        try:
            return tarfile.open(self.path, "r:*")
        except (OSError, tarfile.TarError) as exc:
            raise SourceError(f"cannot read docker archive {self.path}: {exc}") from exc

    @staticmethod
    def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
        try:
            stream = archive.extractfile(os.path.normpath(name))
        except KeyError:
            stream = None
        if stream is None:
            raise SourceError(f"docker archive: {name} not found")
        return stream

    def entry(self) -> dict[str, Any]:
        if self._entry is None:
            with self._open() as archive:
                manifest = _read_json(self._member(archive, "manifest.json"), "manifest.json")
            if not isinstance(manifest, list) or not manifest:
                raise SourceError(f"docker archive {self.path}: manifest.json lists no image")
            if len(manifest) > 1:
                raise SourceError(
                    f"docker archive {self.path} holds {len(manifest)} images: "
                    "save one image per archive"
                )
            self._entry = dict(manifest[0])
        return self._entry

    def image_config(self) -> ImageConfig:
        with self._open() as archive:
            document = _read_json(
                self._member(archive, str(self.entry().get("Config", ""))), "config"
            )
        return ImageConfig.from_oci(document)

    def cache_material(self) -> Any:
        # An archive's layers carry no digests that are checked: its whole content is the key.
        import hashlib

        hasher = hashlib.sha256()
        with open(self.path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                hasher.update(chunk)
        return {"docker-archive": hasher.hexdigest()}

    def unpack(self, dest: Root, status: StatusCallback) -> None:
        from cdi.build.layers import apply_layer

        layers = [str(layer) for layer in self.entry().get("Layers") or []]
        with self._open() as archive:
            for number, layer in enumerate(layers, 1):
                status(f"extracting {layer} {number}/{len(layers)}")
                apply_layer(self._member(archive, layer), dest)


class RegistrySource(Source):
    """An image pulled from a registry with ``skopeo`` into an OCI layout, then read from it."""

    def __init__(
        self, reference: ImageReference, cache_dir: Path, skopeo: str | None = None
    ) -> None:
        self.reference = reference
        self.cache_dir = cache_dir
        self.skopeo = skopeo if skopeo is not None else shutil.which("skopeo")
        self.description = str(reference)
        self._layout: OCILayoutSource | None = None

    def layout(self) -> OCILayoutSource:
        if self._layout is not None:
            return self._layout
        if self.skopeo is None:
            raise SourceError(
                f"failed to resolve source metadata for {self.reference}: pulling images needs "
                f"skopeo, which is not installed; supply the image as a build context instead "
                f"(--build-context {self.reference.familiar}=DIR, =oci-layout://PATH or "
                f"=docker-archive://PATH)"
            )
        import hashlib
        import subprocess

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        directory = self.cache_dir / hashlib.sha256(str(self.reference).encode()).hexdigest()[:16]
        os_name, arch, variant = host_platform()
        command = [
            self.skopeo,
            "copy",
            "--quiet",
            "--override-os",
            os_name,
            "--override-arch",
            arch,
        ]
        if variant:
            command += ["--override-variant", variant]
        command += [f"docker://{self.reference}", f"oci:{directory}:pulled"]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            raise SourceError(
                f"failed to resolve source metadata for {self.reference}: {exc}"
            ) from exc
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or [f"skopeo exited {result.returncode}"]
            raise SourceError(
                f"failed to resolve source metadata for {self.reference}: {_log_message(lines[-1])}"
            )
        self._layout = OCILayoutSource(directory, tag="pulled", name=str(self.reference))
        return self._layout

    def image_config(self) -> ImageConfig:
        return self.layout().image_config()

    def cache_material(self) -> Any:
        return self.layout().cache_material()

    def unpack(self, dest: Root, status: StatusCallback) -> None:
        self.layout().unpack(dest, status)


def _log_message(line: str) -> str:
    """The message of a logrus line (``time=... level=fatal msg="..."``), else the line."""
    import re  # only a failed pull needs it

    match = re.search(r'\bmsg="((?:[^"\\]|\\.)*)"', line)
    if match is None:
        return line
    return re.sub(r"\\(.)", r"\1", match.group(1))


# --- named contexts -----------------------------------------------------------------------------

_REMOTE = ("http://", "https://", "git://", "git@", "ssh://")


def parse_oci_layout(value: str) -> tuple[Path, str | None, str | None]:
    """``PATH[:TAG|@sha256:DIGEST]`` of an ``oci-layout://`` context."""
    digest = None
    tag = None
    if "@" in value:
        value, digest = value.rsplit("@", 1)
        if not is_digest(digest):
            raise SourceError(f"invalid digest {digest!r} in oci-layout context")
    else:
        head, sep, candidate = value.rpartition(":")
        if sep and "/" not in candidate and head:
            value, tag = head, candidate
    return Path(value), tag, digest


def named_source(name: str, value: str, cache_dir: Path, base_dir: Path | None = None) -> Source:
    """The source of ``--build-context NAME=VALUE``; raises :class:`SourceError`."""
    if value.startswith("oci-layout://"):
        path, tag, digest = parse_oci_layout(value[len("oci-layout://") :])
        return OCILayoutSource(_local(path, base_dir), tag=tag, digest=digest)
    if value.startswith("docker-archive://"):
        return DockerArchiveSource(_local(Path(value[len("docker-archive://") :]), base_dir))
    if value.startswith("docker-image://"):
        return RegistrySource(ImageReference.parse(value[len("docker-image://") :]), cache_dir)
    if value.startswith("target:"):
        raise SourceError(f"build context {name}: bake targets (target:) are not supported")
    if value.startswith(_REMOTE) or value.endswith(".git"):
        raise SourceError(f"build context {name}: remote contexts ({value}) are not supported")
    if "://" in value:
        raise SourceError(f"build context {name}: unsupported source {value}")
    return DirectorySource(name, _local(Path(value), base_dir))


def _local(path: Path, base_dir: Path | None) -> Path:
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


class MainContext:
    """The build's main context directory and its ``.dockerignore``."""

    def __init__(self, path: Path, *, dockerfile: Path | None = None) -> None:
        self.path = path.absolute()
        if not self.path.is_dir():
            raise SourceError(f"unable to prepare context: path {str(path)!r} not found")
        # As BuildKit: <Dockerfile>.dockerignore next to the Dockerfile wins over the context's.
        ignore_file = self.path / ".dockerignore"
        if dockerfile is not None:
            specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
            if specific.is_file():
                ignore_file = specific
        self.ignore_file = ignore_file
        self.ignore = IgnoreMatcher.from_file(ignore_file)
        self.root = Root(self.path)

    def excludes(self, relative: str, is_dir: bool) -> bool:
        return bool(self.ignore) and self.ignore.excludes(relative, is_dir)
