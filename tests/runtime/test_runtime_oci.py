"""default_oci_spec: the shape of the spec (that runc accepts it is shown by the e2e tests)."""

from __future__ import annotations

import json

import pytest

from cdi.runtime import DEFAULT_CAPABILITIES, DEFAULT_PATH, default_oci_spec


def test_defaults() -> None:
    spec = default_oci_spec(["sh", "-c", "true"])
    process = spec["process"]
    assert spec["ociVersion"] == "1.0.2-dev"
    assert process["terminal"] is False
    assert process["args"] == ["sh", "-c", "true"]
    assert process["env"] == [f"PATH={DEFAULT_PATH}"]
    assert process["cwd"] == "/"
    assert process["user"] == {"uid": 0, "gid": 0}
    assert process["noNewPrivileges"] is True
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert spec["hostname"] == "cdi"


def test_capabilities_are_the_container_engine_defaults_without_ambient() -> None:
    caps = default_oci_spec(["true"])["process"]["capabilities"]
    assert set(caps) == {"bounding", "effective", "permitted"}
    for kind in caps.values():
        assert kind == list(DEFAULT_CAPABILITIES)
    assert {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL"} <= set(DEFAULT_CAPABILITIES)
    assert "CAP_SYS_ADMIN" not in DEFAULT_CAPABILITIES


def test_capabilities_override() -> None:
    caps = default_oci_spec(["true"], capabilities=["CAP_KILL"])["process"]["capabilities"]
    assert caps == {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}


def test_mounts_namespaces_and_protected_paths() -> None:
    spec = default_oci_spec(["true"])
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ]
    assert {m["destination"]: m["type"] for m in spec["mounts"]}["/dev/pts"] == "devpts"
    linux = spec["linux"]
    assert [ns["type"] for ns in linux["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    assert linux["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    assert "/proc/kcore" in linux["maskedPaths"]
    assert "/proc/sys" in linux["readonlyPaths"]


def test_options() -> None:
    spec = default_oci_spec(
        ["id"],
        env=["A=1"],
        cwd="/tmp",
        terminal=True,
        readonly_rootfs=True,
        hostname="box",
        uid=1000,
        gid=100,
        additional_gids=[5, 6],
    )
    assert spec["process"]["terminal"] is True
    assert spec["process"]["env"] == [f"PATH={DEFAULT_PATH}", "A=1"]
    assert spec["process"]["cwd"] == "/tmp"
    assert spec["process"]["user"] == {"uid": 1000, "gid": 100, "additionalGids": [5, 6]}
    assert spec["root"]["readonly"] is True
    assert spec["hostname"] == "box"


def test_env_with_path_is_kept() -> None:
    env = ["PATH=/bin", "B=2"]
    assert default_oci_spec(["true"], env=env)["process"]["env"] == env


def test_terminal_default_env_has_term() -> None:
    env = default_oci_spec(["sh"], terminal=True)["process"]["env"]
    assert env == [f"PATH={DEFAULT_PATH}", "TERM=xterm"]


def test_each_call_builds_a_fresh_spec() -> None:
    args = ["true"]
    first = default_oci_spec(args)
    first["mounts"].clear()
    first["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    first["process"]["args"].append("x")
    second = default_oci_spec(args)
    assert len(second["mounts"]) == 7
    assert "CAP_SYS_ADMIN" not in second["process"]["capabilities"]["bounding"]
    assert args == ["true"]
    # the capability lists are not shared between sets either
    assert "CAP_SYS_ADMIN" not in first["process"]["capabilities"]["effective"]


def test_is_plain_json() -> None:
    spec = default_oci_spec(["true"])
    assert json.loads(json.dumps(spec)) == spec


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"args": "sh -c true"}, TypeError),
        ({"args": []}, ValueError),
        ({"args": ["true"], "cwd": "tmp"}, ValueError),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    args = kwargs.pop("args")
    with pytest.raises(error):
        default_oci_spec(args, **kwargs)  # type: ignore[arg-type]
