"""Devices injected from a spec directory, checked from inside a container run by real runc.

Each test writes specs into a temporary spec directory, injects through :class:`cdi.Registry`
into a busybox container's OCI spec and asserts what the container (or a hook) observes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cdi
from cdi.runtime import default_oci_spec, make_busybox_rootfs, run_container

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]


@pytest.fixture(scope="module")
def rootfs(require_busybox: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our own busybox root: runc creates mount points for injected mounts inside it."""
    return make_busybox_rootfs(tmp_path_factory.mktemp("inject-rootfs") / "rootfs")


@pytest.fixture
def spec_dirs(tmp_path: Path) -> list[Path]:
    dirs = [tmp_path / "etc-cdi", tmp_path / "run-cdi"]
    for directory in dirs:
        directory.mkdir()
    return dirs


@pytest.fixture
def registry(spec_dirs: list[Path]) -> Iterator[cdi.Registry]:
    with cdi.Registry(spec_dirs) as found:
        yield found


def add_spec(registry: cdi.Registry, document: dict[str, Any], name: str) -> None:
    registry.write_spec(cdi.parse_spec(json.dumps(document)), name)


def run(rootfs: Path, tmp_path: Path, oci: dict[str, Any]) -> tuple[int, str, str]:
    """Run *oci*; return (status, stdout, stderr)."""
    out, err = tmp_path / "container.out", tmp_path / "container.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        status = run_container(
            oci, rootfs, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, timeout=120
        )
    return status, out.read_text(), err.read_text()


def sh(script: str) -> dict[str, Any]:
    return default_oci_spec(["sh", "-c", script])


def test_env_from_a_device(registry: cdi.Registry, rootfs: Path, tmp_path: Path) -> None:
    add_spec(
        registry,
        {
            "cdiVersion": "0.3.0",
            "kind": "vendor1.com/device",
            "devices": [{"name": "foo", "containerEdits": {"env": ["FOO=injected"]}}],
        },
        "vendor1.yaml",
    )
    oci = registry.inject(sh("env | grep ^FOO="), ["vendor1.com/device=foo"])
    assert run(rootfs, tmp_path, oci) == (0, "FOO=injected\n", "")


def test_device_nodes(registry: cdi.Registry, rootfs: Path, tmp_path: Path) -> None:
    # A host character device made for the test (numbers of /dev/zero), and /dev/null under
    # another container path; types and numbers are filled in from the host.
    host_node = tmp_path / "cdi-test-zero"
    os.mknod(host_node, stat.S_IFCHR | 0o640, os.makedev(1, 5))
    os.chmod(host_node, 0o640)  # whatever the umask did: the container gets the host's mode
    add_spec(
        registry,
        {
            "cdiVersion": "0.5.0",
            "kind": "vendor1.com/device",
            "devices": [
                {
                    "name": "zero",
                    "containerEdits": {
                        "deviceNodes": [{"path": "/dev/cdi-zero", "hostPath": str(host_node)}]
                    },
                },
                {
                    "name": "null",
                    "containerEdits": {
                        "deviceNodes": [{"path": "/dev/cdi/null", "hostPath": "/dev/null"}]
                    },
                },
            ],
        },
        "vendor1.yaml",
    )
    script = (
        "for d in /dev/cdi-zero /dev/cdi/null; do"
        "  stat -c '%n %F %t:%T %a' $d;"
        "  echo data > $d && echo $d writable;"
        " done;"
        " head -c 3 /dev/cdi-zero | od -An -tx1"
    )
    oci = registry.inject(sh(script), ["vendor1.com/device=zero", "vendor1.com/device=null"])
    assert [d["path"] for d in oci["linux"]["devices"]] == ["/dev/cdi-zero", "/dev/cdi/null"]
    status, output, errors = run(rootfs, tmp_path, oci)
    assert (status, errors) == (0, "")
    assert output.splitlines() == [
        "/dev/cdi-zero character special file 1:5 640",
        "/dev/cdi-zero writable",
        "/dev/cdi/null character special file 1:3 666",
        "/dev/cdi/null writable",
        " 00 00 00",
    ]


def test_read_only_bind_mount(registry: cdi.Registry, rootfs: Path, tmp_path: Path) -> None:
    data = tmp_path / "vendor-data.txt"
    data.write_text("vendor data\n")
    add_spec(
        registry,
        {
            "cdiVersion": "0.3.0",
            "kind": "vendor1.com/device",
            "devices": [
                {
                    "name": "data",
                    "containerEdits": {
                        "mounts": [
                            {
                                "hostPath": str(data),
                                "containerPath": "/opt/vendor/data.txt",
                                "options": ["ro", "nosuid", "nodev", "bind"],
                            }
                        ]
                    },
                }
            ],
        },
        "vendor1.yaml",
    )
    script = (
        "cat /opt/vendor/data.txt;"
        " if echo changed >> /opt/vendor/data.txt; then echo WRITABLE; else echo read-only; fi"
    )
    oci = registry.inject(sh(script), ["vendor1.com/device=data"])
    status, output, errors = run(rootfs, tmp_path, oci)
    assert status == 0, errors
    assert output == "vendor data\nread-only\n"
    assert errors == "sh: can't create /opt/vendor/data.txt: Read-only file system\n"
    assert data.read_text() == "vendor data\n"


def test_hooks_run(registry: cdi.Registry, rootfs: Path, tmp_path: Path) -> None:
    # createRuntime and prestart hooks run in the runtime's mount namespace, so the host's
    # /bin/sh runs them and their markers land on the host.
    markers = tmp_path / "markers"
    markers.mkdir()
    host_sh = shutil.which("sh") or "/bin/sh"
    hooks = [
        {
            "hookName": name,
            "path": host_sh,
            "args": ["sh", "-c", f'echo "{name} $CDI_HOOK_VAR" > {markers}/{name}'],
            "env": [f"CDI_HOOK_VAR={name}-env"],
        }
        for name in ("createRuntime", "prestart")
    ]
    add_spec(
        registry,
        {
            "cdiVersion": "0.3.0",
            "kind": "vendor1.com/device",
            "devices": [{"name": "hooked", "containerEdits": {"hooks": hooks}}],
        },
        "vendor1.yaml",
    )
    oci = registry.inject(sh("true"), ["vendor1.com/device=hooked"])
    assert run(rootfs, tmp_path, oci) == (0, "", "")
    assert (markers / "createRuntime").read_text() == "createRuntime createRuntime-env\n"
    assert (markers / "prestart").read_text() == "prestart prestart-env\n"


def test_two_vendors_in_one_container(
    registry: cdi.Registry, spec_dirs: list[Path], rootfs: Path, tmp_path: Path
) -> None:
    add_spec(
        registry,
        {
            "cdiVersion": "0.3.0",
            "kind": "vendor1.com/device",
            "containerEdits": {"env": ["VENDOR1_SPEC=1"]},
            "devices": [{"name": "foo", "containerEdits": {"env": ["FOO=injected"]}}],
        },
        "vendor1.yaml",
    )
    # The second vendor's spec is in the lower-priority directory, written by hand.
    (spec_dirs[0] / "vendor2.json").write_text(
        json.dumps(
            {
                "cdiVersion": "0.5.0",
                "kind": "vendor2.com/gpu",
                "devices": [
                    {
                        "name": "bar",
                        "containerEdits": {
                            "env": ["BAR=injected"],
                            "deviceNodes": [{"path": "/dev/vendor2-gpu", "hostPath": "/dev/null"}],
                        },
                    }
                ],
            }
        )
    )
    registry.refresh()
    oci = registry.inject(
        sh("env | grep -E '^(FOO|BAR|VENDOR1_SPEC)=' | sort; test -c /dev/vendor2-gpu && echo gpu"),
        ["vendor1.com/device=foo", "vendor2.com/gpu=bar"],
    )
    status, output, errors = run(rootfs, tmp_path, oci)
    assert (status, errors) == (0, "")
    assert output.splitlines() == ["BAR=injected", "FOO=injected", "VENDOR1_SPEC=1", "gpu"]


def test_unresolvable_device_leaves_the_bundle_untouched(
    registry: cdi.Registry, rootfs: Path, tmp_path: Path
) -> None:
    add_spec(
        registry,
        {
            "cdiVersion": "0.5.0",
            "kind": "vendor1.com/device",
            "devices": [
                {"name": "foo", "containerEdits": {"env": ["FOO=injected"]}},
                {
                    "name": "broken",
                    "containerEdits": {
                        "env": ["BROKEN=1"],
                        "deviceNodes": [{"path": "/dev/cdi-missing", "hostPath": "/nonexistent"}],
                    },
                },
            ],
        },
        "vendor1.yaml",
    )
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    config = bundle / "config.json"
    config.write_text(json.dumps(sh("env | grep -c -E '^(FOO|BROKEN)=' || true"), indent=2))
    before = config.read_bytes()

    # The way a runtime does it: read the bundle's config, inject, write it back on success.
    def inject_into_bundle(devices: list[str]) -> None:
        oci = json.loads(config.read_text())
        config.write_text(json.dumps(registry.inject(oci, devices), indent=2))

    with pytest.raises(cdi.UnresolvableDevicesError) as caught:
        inject_into_bundle(["vendor1.com/device=foo", "vendor1.com/device=missing"])
    assert str(caught.value) == "unresolvable CDI devices vendor1.com/device=missing"
    assert config.read_bytes() == before

    # A device that fails while being applied changes nothing either (transactional).
    with pytest.raises(cdi.InjectionError) as failed:
        inject_into_bundle(["vendor1.com/device=foo", "vendor1.com/device=broken"])
    assert str(failed.value) == (
        'failed to inject devices: failed to stat CDI host device "/nonexistent": '
        "no such file or directory"
    )
    assert config.read_bytes() == before

    assert run(rootfs, tmp_path, json.loads(config.read_text())) == (0, "0\n", "")
