"""``disable-device-node-modification``: a read-only copy of the params file saying 0.

The mounting tests run the hook in a child process with a private mount namespace
(``unshare --mount --propagation private``), so that nothing it mounts reaches this
machine's mount table; they need root and the right to unshare (skipped otherwise).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cdi.hooks.device_node_modification import modified_params

UNSHARE = shutil.which("unshare")
PARAMS = "proc/driver/nvidia/params"
HOST_PARAMS = b"ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\nDeviceFileUID: 0\n"

# Runs in the private namespace: the hook, then what the container would see.
_CHILD = r"""
import json, os, stat, sys
import cdi.hooks.device_node_modification as hook
from cdi.hooks.rootfs import ContainerRoot

root, params, out = sys.argv[1:4]
hook.PARAMS_PATH = params
result = {"error": None}
try:
    with ContainerRoot(root) as opened:
        hook.run(opened, {})
except Exception as exc:
    result["error"] = f"{type(exc).__name__}: {exc}"
target = os.path.join(root, "proc/driver/nvidia/params")
try:
    fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    result["mode"] = stat.S_IMODE(os.fstat(fd).st_mode)
    result["content"] = os.read(fd, 1 << 16).decode()
    os.close(fd)
except OSError as exc:
    result["content"] = None
try:
    os.close(os.open(target, os.O_WRONLY | os.O_NOFOLLOW))
    result["write_errno"] = 0
except OSError as exc:
    result["write_errno"] = exc.errno
run = os.path.join(root, "run")
result["run"] = sorted(os.listdir(run)) if os.path.isdir(run) and not os.path.islink(run) else None
with open("/proc/self/mountinfo") as handle:
    result["mounts"] = [line.split() for line in handle]
with open(out, "w") as handle:
    json.dump(result, handle)
"""


def in_private_namespace(root: Path, params: Path, tmp_path: Path) -> dict[str, Any]:
    if os.geteuid() != 0 or UNSHARE is None:
        pytest.skip("mounting needs root and unshare(1)")
    probe = subprocess.run(
        [UNSHARE, "--mount", "--propagation", "private", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot unshare a mount namespace: {probe.stderr.decode().strip()}")
    out = tmp_path / "result.json"
    command = [UNSHARE, "--mount", "--propagation", "private", sys.executable, "-c", _CHILD]
    subprocess.run(
        [*command, str(root), str(params), str(out)],
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def mounts_under(result: dict[str, Any], path: Path) -> list[list[str]]:
    """The mountinfo entries whose mount point is *path* or below it."""
    prefix = str(path)
    return [
        fields
        for fields in result["mounts"]
        if fields[4] == prefix or fields[4].startswith(prefix + "/")
    ]


def container(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    target = root / PARAMS
    target.parent.mkdir(parents=True)
    target.write_bytes(b"the container's own view\n")
    return root


def host_params(tmp_path: Path, content: bytes | None) -> Path:
    path = tmp_path / "host-params"
    if content is not None:
        path.write_bytes(content)
    return path


def host_mounts_mention(path: Path) -> bool:
    with open("/proc/self/mountinfo") as handle:
        return str(path) in handle.read()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HOST_PARAMS, HOST_PARAMS.replace(b"ModifyDeviceFiles: 1", b"ModifyDeviceFiles: 0")),
        (b"ModifyDeviceFiles: 1", b"ModifyDeviceFiles: 0"),
        (b"A: 1\nModifyDeviceFiles: 1  \n", b"A: 1\nModifyDeviceFiles: 0  \n"),
        (b"ModifyDeviceFiles: 0\n", None),
        (b"ModifyDeviceFiles: 10\n", None),
        (b"XModifyDeviceFiles: 1\n", None),
        (b"ResmanDebugLevel: 1\n", None),
        (b"", None),
        (None, None),
    ],
)
def test_modified_params(text: bytes | None, expected: bytes | None) -> None:
    assert modified_params(text) == expected


def test_params_with_1_get_a_read_only_copy_with_0(tmp_path: Path) -> None:
    root = container(tmp_path)
    result = in_private_namespace(root, host_params(tmp_path, HOST_PARAMS), tmp_path)
    assert result["error"] is None
    assert result["content"] == HOST_PARAMS.decode().replace(
        "ModifyDeviceFiles: 1", "ModifyDeviceFiles: 0"
    )
    assert result["mode"] == 0o444
    # Read-only even for root: the bind was remounted (nvidia-cdi-hook's stays writable).
    assert result["write_errno"] == errno.EROFS
    (bind,) = mounts_under(result, root)
    assert bind[4] == str(root / PARAMS)
    options = set(bind[5].split(","))
    assert {"ro", "nosuid", "nodev", "noexec"} <= options
    major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    if (major, minor) >= (5, 10):
        assert "nosymfollow" in options
    # The staging tmpfs was detached and its directory removed; /run was made for it.
    assert result["run"] == []
    # Nothing of it is in this (the test's) mount namespace.
    assert not host_mounts_mention(root)
    assert (root / PARAMS).read_bytes() == b"the container's own view\n"


@pytest.mark.parametrize(
    "content",
    [b"ModifyDeviceFiles: 0\n", b"ResmanDebugLevel: 4294967295\n", None],
    ids=["value-0", "line-absent", "no-file"],
)
def test_nothing_to_change_mounts_nothing(tmp_path: Path, content: bytes | None) -> None:
    root = container(tmp_path)
    result = in_private_namespace(root, host_params(tmp_path, content), tmp_path)
    assert result["error"] is None
    assert mounts_under(result, root) == []
    assert result["content"] == "the container's own view\n"
    assert result["run"] is None


def test_missing_target_in_the_container(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    result = in_private_namespace(root, host_params(tmp_path, HOST_PARAMS), tmp_path)
    assert result["error"] == (
        "DeviceNodeModificationError: cannot open /proc/driver/nvidia/params in the container: "
        "No such file or directory"
    )
    assert mounts_under(result, root) == []


def test_target_link_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "params").write_bytes(b"host file\n")
    root = tmp_path / "root"
    (root / PARAMS).parent.mkdir(parents=True)
    (root / PARAMS).symlink_to(outside / "params")
    result = in_private_namespace(root, host_params(tmp_path, HOST_PARAMS), tmp_path)
    # Inside the root the link leads nowhere: a clear error, and no mount anywhere.
    assert result["error"] is not None
    assert "No such file or directory" in result["error"]
    assert mounts_under(result, root) == []
    assert mounts_under(result, outside) == []
    assert (outside / "params").read_bytes() == b"host file\n"


def test_run_link_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = container(tmp_path)
    (root / "run").symlink_to(outside)
    result = in_private_namespace(root, host_params(tmp_path, HOST_PARAMS), tmp_path)
    assert result["error"] is None
    assert result["write_errno"] == errno.EROFS
    # The staging directory was made inside the root (ROOT/<outside>), never in outside.
    assert list(outside.iterdir()) == []
    assert mounts_under(result, outside) == []
    (bind,) = mounts_under(result, root)
    assert bind[4] == str(root / PARAMS)
