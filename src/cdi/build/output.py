"""Build outputs (``--output``): what the final stage becomes.

* ``type=local,dest=DIR`` -- the final root filesystem, copied into *DIR*;
* ``type=tar,dest=FILE`` -- the final root filesystem as a tar archive (``-`` for stdout);
* ``type=oci,dest=FILE.tar`` -- an OCI image layout archive (one gzip layer holding the whole
  root filesystem, the image configuration, a manifest and ``index.json``) that ``skopeo``
  (``oci-archive:FILE.tar``) and ``umoci`` read; ``tar=false`` writes the layout as a
  directory instead, and ``name=REF`` records the image name in the index.

The values follow Buildx: ``-o DIR`` is ``type=local,dest=DIR`` and ``-o -`` is
``type=tar,dest=-``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cdi.atomicfile import replacing
from cdi.build.context import CONTAINERD_NAME, MEDIA_INDEX, MEDIA_MANIFEST, REF_NAME, ImageReference
from cdi.build.errors import BuildError
from cdi.build.fs import CopyOptions, Root, copy_entry
from cdi.build.image import ImageConfig

MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

TYPES = ("local", "tar", "oci")
_REFUSED_TYPES = {
    "docker": "loading into a Docker daemon is not supported; use type=oci and load that",
    "image": "pushing or storing images is not supported; use type=oci",
    "registry": "pushing images is not supported; use type=oci and skopeo copy",
    "cacheonly": "there is no build cache to keep",
}


class OutputError(BuildError):
    """An ``--output`` value is invalid, or the output could not be written."""


@dataclass(frozen=True)
class OutputSpec:
    """One ``--output`` value."""

    type: str
    dest: str
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def to_stdout(self) -> bool:
        return self.dest == "-"


def parse_output(value: str) -> OutputSpec:
    """Parse an ``--output`` value (Buildx syntax). Raises :class:`OutputError`."""
    if "=" not in value and "," not in value:
        if value == "-":
            return OutputSpec("tar", "-")
        return OutputSpec("local", value)
    try:
        fields = next(csv.reader([value], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise OutputError(f"invalid output {value!r}: {exc}") from exc
    attrs: dict[str, str] = {}
    for item in fields:
        key, sep, val = item.partition("=")
        if not sep:
            raise OutputError(f"invalid value {item}")
        attrs[key.strip().lower()] = val
    kind = attrs.pop("type", "")
    if not kind:
        raise OutputError(f"invalid output {value!r}: type is required")
    if kind in _REFUSED_TYPES:
        raise OutputError(f"output type {kind} is not supported: {_REFUSED_TYPES[kind]}")
    if kind not in TYPES:
        raise OutputError(f"unsupported output type {kind!r} (use local, tar or oci)")
    dest = attrs.pop("dest", "")
    if not dest:
        raise OutputError(f"dest is required for {kind} exporter")
    if kind == "local" and dest == "-":
        raise OutputError("local exporter cannot write to stdout; use type=tar")
    known = {"local": set(), "tar": set(), "oci": {"name", "tar", "annotation"}}[kind]
    for key in attrs:
        if key not in known and not key.startswith("annotation."):
            raise OutputError(f"unsupported attribute {key!r} for {kind} exporter")
    if kind == "oci" and attrs.get("tar", "true") == "false" and dest == "-":
        raise OutputError("oci exporter with tar=false needs a directory as dest")
    return OutputSpec(kind, dest, attrs)


# --- writing ------------------------------------------------------------------------------------


class _HashingWriter(io.RawIOBase):
    """Counts and hashes what is written through it to *target*."""

    def __init__(self, target: IO[bytes]) -> None:
        super().__init__()
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.target.write(view)
        self.hash.update(view)
        self.size += len(view)
        return len(view)

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def write_rootfs_tar(root: Root, target: IO[bytes]) -> None:
    """The root filesystem as an uncompressed tar (sorted, owners numeric, no host names)."""
    with tarfile.open(fileobj=target, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        _add_tree(archive, root.path, "")


def _add_tree(archive: tarfile.TarFile, directory: Path, prefix: str) -> None:
    for name in sorted(os.listdir(directory)):
        path = directory / name
        arcname = f"{prefix}{name}"
        info = archive.gettarinfo(str(path), arcname)
        info.uname = info.gname = ""
        mode = os.lstat(path).st_mode
        if stat.S_ISREG(mode) and info.type == tarfile.REGTYPE:
            with open(path, "rb") as handle:
                archive.addfile(info, handle)
        elif stat.S_ISSOCK(mode):
            continue
        else:
            archive.addfile(info)
        if stat.S_ISDIR(mode):
            _add_tree(archive, path, arcname + "/")


@dataclass(frozen=True)
class OCIResult:
    """What an OCI output wrote."""

    manifest_digest: str
    config_digest: str
    layer_digest: str


def _blob(payload: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(payload).hexdigest(), payload


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def write_oci(
    root: Root,
    config: ImageConfig,
    spec: OutputSpec,
    *,
    created: str,
    epoch: int,
    status: Callable[[str], None],
    stdout: IO[bytes] | None = None,
    workdir: Path,
) -> OCIResult:
    """Write *root* with *config* as an OCI image layout (archive or directory)."""
    with tempfile.TemporaryDirectory(prefix="oci-", dir=workdir) as temp:
        raw_path = Path(temp) / "layer.tar"
        with open(raw_path, "wb") as raw_file:
            hashing = _HashingWriter(raw_file)
            buffered_raw = io.BufferedWriter(hashing)
            write_rootfs_tar(root, buffered_raw)
            buffered_raw.flush()
        diff_id = hashing.digest
        gz_path = Path(temp) / "layer.tar.gz"
        with open(raw_path, "rb") as source, open(gz_path, "wb") as gz_file:
            gz_hashing = _HashingWriter(gz_file)
            buffered = io.BufferedWriter(gz_hashing)
            with gzip.GzipFile(fileobj=buffered, mode="wb", mtime=0) as compressed:
                shutil.copyfileobj(source, compressed, 1 << 20)
            buffered.flush()
        layer_digest, layer_size = gz_hashing.digest, gz_hashing.size
        status(f"exporting layers {layer_size}B done")

        config_digest, config_bytes = _blob(_json_bytes(config.to_oci([diff_id], created)))
        status(f"exporting config {config_digest} done")
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {
                "mediaType": MEDIA_CONFIG,
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": [{"mediaType": MEDIA_LAYER_GZIP, "digest": layer_digest, "size": layer_size}],
        }
        manifest_digest, manifest_bytes = _blob(_json_bytes(manifest))
        status(f"exporting manifest {manifest_digest} done")
        annotations = _index_annotations(spec)
        descriptor: dict[str, Any] = {
            "mediaType": MEDIA_MANIFEST,
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "annotations": annotations,
            "platform": {"architecture": config.architecture, "os": config.os},
        }
        if config.variant:
            descriptor["platform"]["variant"] = config.variant
        index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [descriptor]}
        files: list[tuple[str, bytes | Path]] = [
            ("oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"})),
            ("index.json", _json_bytes(index)),
            (f"blobs/sha256/{config_digest[7:]}", config_bytes),
            (f"blobs/sha256/{manifest_digest[7:]}", manifest_bytes),
            (f"blobs/sha256/{layer_digest[7:]}", gz_path),
        ]
        if spec.attrs.get("tar", "true") == "false":
            _write_layout_dir(Path(spec.dest), files)
        elif spec.to_stdout:
            if stdout is None:
                raise OutputError("no stream to write the oci archive to")
            _write_layout_tar(stdout, files, epoch)
        else:
            with replacing(spec.dest, 0o644) as handle:
                _write_layout_tar(handle, files, epoch)
        status("sending tarball done")
    return OCIResult(manifest_digest, config_digest, layer_digest)


def _index_annotations(spec: OutputSpec) -> dict[str, str]:
    annotations = {
        key[len("annotation.") :]: value
        for key, value in spec.attrs.items()
        if key.startswith("annotation.")
    }
    name = spec.attrs.get("name")
    if name:
        reference = ImageReference.parse(name.split(",")[0])
        annotations[CONTAINERD_NAME] = str(reference)
        annotations[REF_NAME] = reference.tag or "latest"
    else:
        # Tools that address an image in a layout by tag (umoci, skopeo's oci:DIR:TAG) find it.
        annotations[REF_NAME] = "latest"
    return annotations


def _write_layout_tar(target: IO[bytes], files: list[tuple[str, bytes | Path]], epoch: int) -> None:
    with tarfile.open(fileobj=target, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = epoch
            archive.addfile(info)
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            info.mtime = epoch
            if isinstance(content, Path):
                info.size = content.stat().st_size
                with open(content, "rb") as handle:
                    archive.addfile(info, handle)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))


def _write_layout_dir(dest: Path, files: list[tuple[str, bytes | Path]]) -> None:
    (dest / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    for name, content in files:
        target = dest / name
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_bytes(content)


def write_local(root: Root, dest: Path, status: Callable[[str], None]) -> None:
    """Copy the root filesystem into directory *dest* (created if missing; merged if not)."""
    dest.mkdir(parents=True, exist_ok=True)
    count = copy_entry(root.path, Root(dest), "/", CopyOptions(), contents_only=True)
    status(f"copying files {count} entries done")


def write_tar(root: Root, spec: OutputSpec, stdout: IO[bytes] | None) -> None:
    """The root filesystem as a tar archive at ``spec.dest`` (or on *stdout* for ``-``)."""
    if spec.to_stdout:
        if stdout is None:
            raise OutputError("no stream to write the tar archive to")
        write_rootfs_tar(root, stdout)
        return
    with replacing(spec.dest, 0o644) as handle:
        write_rootfs_tar(root, handle)
