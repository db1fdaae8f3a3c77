"""Image references, context names and the image configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdi.build.context import ImageReference, context_key, parse_oci_layout
from cdi.build.errors import SourceError
from cdi.build.image import ImageConfig
from cdi.runtime import DEFAULT_PATH


@pytest.mark.parametrize(
    ("text", "normalized", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("user/app", "docker.io/user/app:latest", "user/app"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox"),
        ("localhost/app:1", "localhost/app:1", "localhost/app:1"),
        ("registry:5000/team/app", "registry:5000/team/app:latest", "registry:5000/team/app"),
        (
            "alpine@sha256:" + "a" * 64,
            "docker.io/library/alpine@sha256:" + "a" * 64,
            "alpine@sha256:" + "a" * 64,
        ),
    ],
)
def test_references(text: str, normalized: str, familiar: str) -> None:
    reference = ImageReference.parse(text)
    assert str(reference) == normalized
    assert reference.familiar == familiar


@pytest.mark.parametrize("text", ["UPPER/case", "a:b:c", "x@sha256:short", "bad name", ""])
def test_invalid_references(text: str) -> None:
    with pytest.raises(SourceError, match="invalid reference format"):
        ImageReference.parse(text)


def test_context_keys_match_short_forms() -> None:
    assert context_key("docker.io/library/busybox:latest") == context_key("busybox") == "busybox"
    assert context_key("My_Context!") == "My_Context!"  # not an image name: used as is


def test_oci_layout_values() -> None:
    assert parse_oci_layout("/l") == (Path("/l"), None, None)
    assert parse_oci_layout("/l:v1") == (Path("/l"), "v1", None)
    assert parse_oci_layout("./dir:with/x") == (Path("./dir:with/x"), None, None)
    digest = "sha256:" + "b" * 64
    assert parse_oci_layout(f"/l@{digest}") == (Path("/l"), None, digest)


def test_config_from_oci_and_back() -> None:
    document = {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
        "config": {
            "Env": ["A=1"],
            "Cmd": ["sh"],
            "WorkingDir": "/w",
            "Healthcheck": {"Test": ["NONE"]},
        },
        "history": [{"created_by": "base"}],
    }
    config = ImageConfig.from_oci(document)
    assert config.env == [f"PATH={DEFAULT_PATH}", "A=1"]  # BuildKit adds the default PATH
    config.set_env("A", "2")
    config.set_env("B", "3")
    assert config.env == [f"PATH={DEFAULT_PATH}", "A=2", "B=3"]
    out = config.to_oci(["sha256:" + "0" * 64], "2024-01-01T00:00:00Z")
    assert out["architecture"] == "arm64" and out["variant"] == "v8"
    assert out["config"]["Healthcheck"] == {"Test": ["NONE"]}  # unknown keys kept
    assert out["config"]["WorkingDir"] == "/w" and out["config"]["Cmd"] == ["sh"]
    assert [h.get("empty_layer", False) for h in out["history"]] == [True, False]
    assert out["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}


def test_scratch_config() -> None:
    config = ImageConfig.scratch()
    assert config.env == [f"PATH={DEFAULT_PATH}"]
    assert config.shell_or_default == ["/bin/sh", "-c"]
    assert config.cmd is None and config.entrypoint is None
