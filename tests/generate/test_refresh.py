"""Keeping specs current: the watch loop (tests/vectors/generate/cli_refresh.yaml) and the
fingerprints it polls (tests/vectors/generate/cli_fingerprint.yaml), without sleeping."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from cdi.generate.errors import GenerateError
from cdi.generate.fingerprint import Watched, fingerprint
from cdi.generate.inputs import amd_inputs, devices_inputs, in_dev, in_sys, intel_inputs
from cdi.generate.refresh import SpecFile, update, watch
from cdi.spec.goencode import encode_go
from cdi.spec.model import ContainerEdits, Device, Spec
from generate.fixtures import requires_root
from tables import cases

INTERVAL = 5.0


def stand_in_file(directory: Path, name: str, version: int) -> SpecFile:
    """The stand-in generator's spec for file *name*: kind example.com/<stem>, VERSION=n."""
    spec = Spec(
        "0.3.0",
        f"example.com/{name.removesuffix('.yaml')}",
        devices=(Device("dev", container_edits=ContainerEdits(env=(f"VERSION={version}",))),),
    )
    return SpecFile(str(directory / name), spec, encode_go(spec, "yaml"))


def _write_before(directory: Path, name: str, value: Any) -> None:
    path = directory / name
    if isinstance(value, int):
        value = {"version": value}
    if "text" in value:
        path.write_text(value["text"])
    else:
        path.write_bytes(stand_in_file(directory, name, value["version"]).data)
    os.chmod(path, int(value.get("mode", "0644"), 8))


class Scenario:
    """The polls of one case: what the loop's inputs, generation and wait see."""

    def __init__(self, directory: Path, polls: Sequence[dict[str, Any]]) -> None:
        self.directory = directory
        self.polls = polls
        self.index = 0
        self.reported: list[list[str]] = [[]]
        self.inodes: list[dict[str, int]] = []
        self.waits: list[float] = []
        self._start_poll()

    @property
    def poll(self) -> dict[str, Any]:
        return self.polls[self.index]

    def _start_poll(self) -> None:
        for name, text in self.poll.get("edit", {}).items():
            (self.directory / name).write_text(text)
        self.inodes.append(self._inodes())

    def _inodes(self) -> dict[str, int]:
        return {path.name: path.stat().st_ino for path in self.directory.iterdir()}

    def inputs(self) -> object:
        return self.poll["inputs"]

    def render(self, progress: Callable[[str], None]) -> list[SpecFile]:
        assert "render" in self.poll, f"poll {self.index}: the generation must not run"
        for line in self.poll.get("progress", ()):
            progress(line)
        result = self.poll["render"]
        if "error" in result:
            raise GenerateError(result["error"])
        return [stand_in_file(self.directory, name, n) for name, n in result.items()]

    def report(self, line: str) -> None:
        self.reported[-1].append(line)

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.check_poll()
        if self.index + 1 == len(self.polls):
            return True
        self.index += 1
        self.reported.append([])
        self._start_poll()
        return False

    def check_poll(self) -> None:
        poll, where = self.poll, f"poll {self.index}"
        expected = [line.replace("{dir}", str(self.directory)) for line in poll["report"]]
        assert self.reported[-1] == expected, where
        for name, value in poll.get("files", {}).items():
            path = self.directory / name
            if value is None:
                assert not path.exists(), f"{where}: {name}"
            elif isinstance(value, str):
                assert path.read_text() == value, f"{where}: {name}"
            else:
                assert path.read_bytes() == stand_in_file(self.directory, name, value).data
        for name in poll.get("kept", ()):
            assert (self.directory / name).stat().st_ino == self.inodes[-1][name], where
        for path in self.directory.iterdir():
            if path.name.endswith(".yaml") and path.read_bytes().startswith(b"---\n"):
                assert stat.S_IMODE(path.stat().st_mode) == 0o644, f"{where}: {path.name}"
        leftovers = [p.name for p in self.directory.iterdir() if p.name.startswith(".")]
        assert leftovers == [], where


@cases("generate/cli_refresh.yaml")
def test_watch_loop(case: dict[str, Any], tmp_path: Path) -> None:
    directory = tmp_path / "cdi"
    directory.mkdir()
    for name, value in case.get("before", {}).items():
        _write_before(directory, name, value)
    scenario = Scenario(directory, case["polls"])
    watch(
        scenario.render,
        scenario.inputs,
        interval=INTERVAL,
        wait=scenario.wait,
        report=scenario.report,
    )
    assert scenario.index == len(case["polls"]) - 1, "the loop stopped early"
    assert scenario.waits == [INTERVAL] * len(case["polls"])


def test_watch_stops_at_the_first_true_wait(tmp_path: Path) -> None:
    generations: list[int] = []

    def render(progress: Callable[[str], None]) -> list[SpecFile]:
        generations.append(1)
        return [stand_in_file(tmp_path, "a.yaml", len(generations))]

    waits = iter([False, False, True])
    watch(render, lambda: len(generations), interval=0.5, wait=lambda s: next(waits), report=print)
    assert len(generations) == 3  # every poll saw new inputs (the count of generations)
    assert (tmp_path / "a.yaml").read_bytes() == stand_in_file(tmp_path, "a.yaml", 3).data


def test_a_write_error_is_reported_and_retried(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    target = SpecFile(str(blocker / "a.yaml"), stand_in_file(tmp_path, "a.yaml", 1).spec, b"x")
    reported: list[str] = []
    waits = iter([False, True])
    watch(
        lambda p: [target],
        lambda: 0,
        interval=1,
        wait=lambda s: next(waits),
        report=reported.append,
    )
    assert len(reported) == 1  # the same failure twice, reported once
    assert reported[0].startswith("Error: failed to create Spec dir: ")
    assert reported[0].endswith("(the spec files are left as they are; retrying every 1s)")


def test_update_writes_only_what_differs(tmp_path: Path) -> None:
    same = stand_in_file(tmp_path, "same.yaml", 1)
    Path(same.path).write_bytes(same.data)
    os.chmod(same.path, 0o644)
    new = stand_in_file(tmp_path, "new.yaml", 1)
    changes = update([same, new], dropped=[str(tmp_path / "gone.yaml")])
    assert changes.written == (new,)
    assert changes.unchanged == (same,)
    assert changes.removed == ()  # a dropped file that is not there is no removal


# --------------------------------------------------------------------------- fingerprints


def _make(base: Path, relative: str, entry: dict[str, Any]) -> None:
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    if entry.get("dir"):
        path.mkdir()
    elif "file" in entry:
        path.write_text(entry["file"])
    elif "link" in entry:
        path.symlink_to(entry["link"])
    else:
        major, minor = (int(part) for part in entry["char"].split(":"))
        os.mknod(path, stat.S_IFCHR | int(entry.get("mode", "0666"), 8), os.makedev(major, minor))
        os.chmod(path, int(entry.get("mode", "0666"), 8))


def _apply(base: Path, change: dict[str, Any]) -> None:
    if "set" in change:
        _make(base, change["set"], change)
    elif "remove" in change:
        (base / change["remove"]).unlink()
    elif "chmod" in change:
        os.chmod(base / change["chmod"], int(change["mode"], 8))
    else:
        path = base / change["write"]
        before = path.stat()
        with path.open("r+") as handle:  # in place: the same inode
            handle.write(change["text"])
            handle.truncate()
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _watched(base: Path, spelt: Sequence[str]) -> list[Watched]:
    found = []
    for item in spelt:
        root, _, pattern = item.partition(":")
        make = in_sys if root == "sys" else in_dev
        found.append(make(str(base / root), pattern))
    return found


@requires_root
@cases("generate/cli_fingerprint.yaml")
def test_fingerprint(case: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "sys").mkdir()
    (tmp_path / "dev").mkdir()
    for relative, entry in case["tree"].items():
        _make(tmp_path, relative, entry)
    watched = _watched(tmp_path, case["watched"])
    before = fingerprint(watched)
    for change in case["change"]:
        _apply(tmp_path, change)
    assert (fingerprint(watched) != before) is case["changed"]


# --------------------------------------------------------------------------- what is watched


def _spelt(watched: Sequence[Watched]) -> list[str]:
    return [f"{item.mount_point[1:]}:{item.pattern}" for item in watched]


@cases("generate/cli_inputs.yaml")
def test_watched_inputs(case: dict[str, Any]) -> None:
    generator = case["generator"]
    if generator == "amd":
        watched = amd_inputs("/tmp/sys", "/tmp/dev")
    elif generator == "devices":
        watched = devices_inputs(
            case.get("device_globs", ()), case.get("sysfs_class"), "/tmp/sys", "/tmp/dev"
        )
    else:
        watched = intel_inputs(generator.split()[1], "/tmp/sys", "/tmp/dev")
    assert _spelt(watched) == case["watched"]
    roots = {"/sys": "/tmp/sys", "/dev": "/tmp/dev"}
    assert all(item.root == roots[item.mount_point] for item in watched)


# --------------------------------------------------------------------------- inputs vs output
#
# The property --watch relies on: a change of the host that changes the generated spec
# changes the fingerprint of the generator's inputs. Each case builds a fake host with the
# generators' own tree builders, changes it the way a driver reload, a hotplug or udev
# would, and checks both halves: the spec did change (else the case proves nothing), and
# so did the fingerprint.


def _amd_host(base: Path) -> tuple[Callable[[], object], list[Watched]]:
    from cdi.generate.amd import generate_amd
    from generate.amdtree import AmdTree, gpu_properties

    tree = AmdTree(base)
    tree.gpu("0000:03:00.0", ["card1", "renderD128"])
    tree.topology_node(None)  # the CPU
    tree.topology_node(gpu_properties(128, "0000:03:00.0"))
    tree.drm_node("card1")
    tree.drm_node("renderD128")
    tree.kfd()
    sysfs, dev = str(tree.sysfs), str(tree.dev)
    return (lambda: generate_amd(sysfs_root=sysfs, dev_root=dev)), amd_inputs(sysfs, dev)


def _amd_second_gpu(base: Path) -> None:
    from generate.amdtree import AmdTree, gpu_properties

    tree = AmdTree(base)
    tree._nodes = 2  # after the CPU and the first GPU
    tree.gpu("0000:43:00.0", ["card2", "renderD129"])
    tree.topology_node(gpu_properties(129, "0000:43:00.0"))
    tree.drm_node("card2")
    tree.drm_node("renderD129")


def _amd_renumbered(base: Path) -> None:
    from generate.amdtree import AmdTree

    (base / "dev/dri/renderD128").unlink()
    AmdTree(base).drm_node("renderD128", minor=130)


def _amd_driver_unbound(base: Path) -> None:
    (base / "sys/bus/pci/drivers/amdgpu/0000:03:00.0").unlink()


def _intel_host(base: Path) -> tuple[Callable[[], object], list[Watched]]:
    from cdi.generate.intel import generate_intel
    from generate.inteltree import IntelTree

    tree = IntelTree(base)
    tree.pci("0000:03:00.0", drm=["card0", "renderD128"], mei=["mei0"])
    sysfs, dev = str(tree.sys), str(tree.dev)
    return (
        lambda: generate_intel("gpu", sysfs_root=sysfs, dev_root=dev),
        intel_inputs("gpu", sysfs, dev),
    )


def _intel_second_gpu(base: Path) -> None:
    from generate.inteltree import IntelTree

    IntelTree(base).pci("0000:04:00.0", driver="xe", drm=["card1", "renderD129"])


def _intel_by_path(base: Path) -> None:
    link = base / "dev/dri/by-path/pci-0000:03:00.0-render"
    link.parent.mkdir(parents=True)
    link.symlink_to("../renderD128")


def _intel_to_vfio(base: Path) -> None:
    """The GPU unbound from i915 and bound to vfio-pci, as for passing it to a VM."""
    import shutil

    from generate.inteltree import IntelTree

    device = base / "sys/devices/pci0000:00/0000:03:00.0"
    for name in ("card0", "renderD128"):
        (base / "dev/dri" / name).unlink()
    shutil.rmtree(device / "drm")
    (device / "driver").unlink()
    (base / "sys/bus/pci/drivers/vfio-pci").mkdir(parents=True)
    (device / "driver").symlink_to("../../../bus/pci/drivers/vfio-pci")
    (base / "sys/kernel/iommu_groups/12").mkdir(parents=True)
    (device / "iommu_group").symlink_to("../../../kernel/iommu_groups/12")
    IntelTree(base).node("vfio/12")


def _devices_host(base: Path) -> tuple[Callable[[], object], list[Watched]]:
    from cdi.generate.devices import generate_devices
    from generate.fixtures import make_char_device

    make_char_device(base / "dev/fpga0", 240, 0)
    (base / "sys").mkdir()
    sysfs, dev = str(base / "sys"), str(base / "dev")
    globs = ("/dev/fpga*",)
    return (
        lambda: generate_devices(
            "example.com/fpga", device_globs=globs, sysfs_root=sysfs, dev_root=dev
        ),
        devices_inputs(globs, None, sysfs, dev),
    )


def _devices_node_added(base: Path) -> None:
    from generate.fixtures import make_char_device

    make_char_device(base / "dev/fpga1", 240, 1)


def _devices_chmod(base: Path) -> None:
    os.chmod(base / "dev/fpga0", 0o660)


def _devices_class_host(base: Path) -> tuple[Callable[[], object], list[Watched]]:
    from cdi.generate.devices import generate_devices
    from generate.devicestree import build_tree

    dev, sys = build_tree(
        base, {"devices": [{"number": "240:0", "name": "tenstorrent!0", "class": "tenstorrent"}]}
    )
    return (
        lambda: generate_devices(
            "tenstorrent.com/card",
            sysfs_class="tenstorrent",
            sysfs_root=str(sys),
            dev_root=str(dev),
        ),
        devices_inputs((), "tenstorrent", str(sys), str(dev)),
    )


def _devices_class_member_added(base: Path) -> None:
    from generate.devicestree import make_device

    make_device(
        base / "dev",
        base / "sys",
        {"number": "240:1", "name": "tenstorrent!1", "class": "tenstorrent"},
    )


HOSTS = {
    "amd": _amd_host,
    "intel": _intel_host,
    "devices": _devices_host,
    "devices by class": _devices_class_host,
}
CHANGES = [
    ("amd", _amd_second_gpu),
    ("amd", _amd_renumbered),
    ("amd", _amd_driver_unbound),
    ("intel", _intel_second_gpu),
    ("intel", _intel_by_path),
    ("intel", _intel_to_vfio),
    ("devices", _devices_node_added),
    ("devices", _devices_chmod),
    ("devices by class", _devices_class_member_added),
]


def _outcome(generate: Callable[[], object]) -> object:
    try:
        return generate()
    except GenerateError as err:
        return f"error: {err}"


@requires_root
@pytest.mark.parametrize(
    ("host", "change"), CHANGES, ids=[f"{h}: {c.__name__.lstrip('_')}" for h, c in CHANGES]
)
def test_a_change_of_the_spec_is_seen_by_the_fingerprint(
    host: str, change: Callable[[Path], None], tmp_path: Path
) -> None:
    generate, watched = HOSTS[host](tmp_path)
    spec, before = _outcome(generate), fingerprint(watched)
    assert not str(spec).startswith("error"), spec
    change(tmp_path)
    assert _outcome(generate) != spec, "the change must change the spec to prove anything"
    assert fingerprint(watched) != before
