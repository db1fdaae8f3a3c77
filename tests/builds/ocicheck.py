"""Checking an OCI image layout archive the way a reader (skopeo, umoci) depends on it."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any


def read_oci_archive(path: Path) -> dict[str, Any]:
    """Validate the archive's structure and digests; its index, manifest, config and files."""
    with tarfile.open(path) as archive:
        members = {m.name: archive.extractfile(m) for m in archive.getmembers() if m.isfile()}
        contents = {name: handle.read() for name, handle in members.items() if handle is not None}
    assert json.loads(contents["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in contents.items():
        if name.startswith("blobs/"):
            algorithm, hexdigest = name.split("/")[1:]
            assert algorithm == "sha256"
            assert hashlib.sha256(data).hexdigest() == hexdigest, f"{name}: digest mismatch"

    def blob(descriptor: dict[str, Any]) -> bytes:
        data = contents[f"blobs/sha256/{descriptor['digest'].removeprefix('sha256:')}"]
        assert len(data) == descriptor["size"]
        return data

    index = json.loads(contents["index.json"])
    assert index["schemaVersion"] == 2
    (descriptor,) = index["manifests"]
    assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(blob(descriptor))
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    config = json.loads(blob(manifest["config"]))
    (layer_descriptor,) = manifest["layers"]
    assert layer_descriptor["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    layer = gzip.decompress(blob(layer_descriptor))
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    non_empty = [h for h in config["history"] if not h.get("empty_layer")]
    assert len(non_empty) == len(config["rootfs"]["diff_ids"])
    import io

    with tarfile.open(fileobj=io.BytesIO(layer)) as layer_tar:
        files = {m.name: m for m in layer_tar.getmembers()}
        texts = {
            name: (layer_tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
            for name, m in files.items()
        }
    return {"index": index, "manifest": manifest, "config": config, "files": files, "texts": texts}
