"""Outputs: --output parsing, the OCI layout archive, rootfs tar, local directory."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from buildtools import write_tree
from ocicheck import read_oci_archive

from cdi.build import OutputError, parse_output
from cdi.build.fs import Root
from cdi.build.image import ImageConfig
from cdi.build.output import write_local, write_oci, write_tar
from tables import cases

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="keeps file owners (needs root)")


@cases("build/outputs.yaml")
def test_output_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(OutputError) as raised:
            parse_output(case["value"])
        assert str(raised.value) == case["error"]
    else:
        spec = parse_output(case["value"])
        assert (spec.type, spec.dest, spec.attrs) == (case["type"], case["dest"], case["attrs"])


@pytest.fixture
def rootfs(tmp_path: Path) -> Root:
    tree = write_tree(tmp_path / "rootfs", {"etc/hostname": "box\n", "bin/app": "#!/bin/sh\n"})
    os.chmod(tree / "bin" / "app", 0o755)
    (tree / "bin" / "link").symlink_to("app")
    os.link(tree / "etc" / "hostname", tree / "etc" / "hostname2")
    return Root(tree)


def _config() -> ImageConfig:
    config = ImageConfig.scratch()
    config.cmd = ["/bin/app"]
    config.labels = {"org.example": "yes"}
    config.add_history("COPY . / # buildkit", empty_layer=False, created="2024-01-01T00:00:00Z")
    return config


def test_oci_archive_structure(rootfs: Root, tmp_path: Path) -> None:
    dest = tmp_path / "image.tar"
    result = write_oci(
        rootfs,
        _config(),
        parse_output(f"type=oci,dest={dest},name=example.com/app:1.0"),
        created="2024-01-01T00:00:00Z",
        epoch=1704067200,
        status=lambda _line: None,
        workdir=tmp_path,
    )
    image = read_oci_archive(dest)
    assert image["index"]["manifests"][0]["digest"] == result.manifest_digest
    assert image["index"]["manifests"][0]["annotations"] == {
        "io.containerd.image.name": "example.com/app:1.0",
        "org.opencontainers.image.ref.name": "1.0",
    }
    config = image["config"]
    assert config["config"]["Cmd"] == ["/bin/app"]
    assert config["config"]["Labels"] == {"org.example": "yes"}
    assert config["created"] == "2024-01-01T00:00:00Z"
    files = image["files"]
    assert files["bin/link"].issym() and files["bin/link"].linkname == "app"
    assert files["bin/app"].mode & 0o777 == 0o755
    assert files["etc/hostname2"].islnk() or files["etc/hostname"].islnk()
    assert image["texts"]["etc/hostname"] == b"box\n"


def test_oci_archive_is_reproducible(rootfs: Root, tmp_path: Path) -> None:
    digests = set()
    for name in ("a.tar", "b.tar"):
        write_oci(
            rootfs,
            _config(),
            parse_output(f"type=oci,dest={tmp_path / name}"),
            created="2024-01-01T00:00:00Z",
            epoch=0,
            status=lambda _line: None,
            workdir=tmp_path,
        )
        digests.add((tmp_path / name).read_bytes())
    assert len(digests) == 1


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_reads_the_archive(rootfs: Root, tmp_path: Path) -> None:
    dest = tmp_path / "image.tar"
    write_oci(
        rootfs,
        _config(),
        parse_output(f"type=oci,dest={dest}"),
        created="2024-01-01T00:00:00Z",
        epoch=0,
        status=lambda _line: None,
        workdir=tmp_path,
    )
    result = subprocess.run(
        ["skopeo", "inspect", "--config", f"oci-archive:{dest}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"/bin/app"' in result.stdout


@pytest.mark.skipif(
    shutil.which("umoci") is None or os.geteuid() != 0, reason="umoci is not installed"
)
def test_umoci_unpacks_the_layout(rootfs: Root, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    write_oci(
        rootfs,
        _config(),
        parse_output(f"type=oci,dest={layout},tar=false"),
        created="2024-01-01T00:00:00Z",
        epoch=0,
        status=lambda _line: None,
        workdir=tmp_path,
    )
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:latest", str(bundle)],
        capture_output=True,
        check=True,
    )
    assert (bundle / "rootfs" / "etc" / "hostname").read_text() == "box\n"


def test_rootfs_tar(rootfs: Root, tmp_path: Path) -> None:
    dest = tmp_path / "fs.tar"
    write_tar(rootfs, parse_output(f"type=tar,dest={dest}"), None)
    with tarfile.open(dest) as archive:
        names = archive.getnames()
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert "bin/app" in names and "etc/hostname" in names
    stream = io.BytesIO()
    write_tar(rootfs, parse_output("-"), stream)
    assert stream.getvalue() == dest.read_bytes()


@needs_root
def test_local_output_merges_and_stays_inside(rootfs: Root, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "existing").write_text("keep")
    (dest / "etc").symlink_to(tmp_path / "elsewhere")  # must not be written through
    write_local(rootfs, dest, lambda _line: None)
    assert (dest / "existing").read_text() == "keep"
    assert not (tmp_path / "elsewhere").exists()
    assert (dest / "bin" / "app").read_text() == "#!/bin/sh\n"
