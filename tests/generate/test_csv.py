"""CSV (Tegra) mode: the CSV grammar, Tegra detection, and specs for fixture roots shaped like
nvidia-ctk's ``rootfs-orin`` and ``rootfs-thor-dgpu`` (cdi.generate.csv)."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from cdi.generate.csv import (
    CSVError,
    CSVLineError,
    MountSpec,
    MountSpecs,
    discover_csv,
    is_ignored,
    is_integrated,
    is_tegra,
    parse_csv,
    parse_line,
    read_csv_files,
)
from cdi.generate.edits import Discovered
from cdi.generate.hooks import ALL, HookMaker, HookSelection
from cdi.generate.nvml import NvmlError
from cdi.generate.options import DISABLE_MULTIPLE_CSV_DEVICES, Options
from cdi.spec.encode import edits_to_plain
from generate.fakenvml import FakeDevice, FakeNvml
from generate.fixtures import (
    NVIDIA_MAJOR,
    VIDEO_GID,
    make_char_device,
    requires_root,
    symlink,
    write_file,
    write_shared_object,
)
from generate.wire import fill_root
from tables import cases

HOOK = "/usr/bin/nvidia-cdi-hook"
RO = ["ro", "nosuid", "nodev", "rbind", "rprivate"]
ORIN_LIBS = "/usr/lib/aarch64-linux-gnu/nvidia"
NVMAP_MAJOR = 10


def hook(*args: str) -> dict[str, Any]:
    return {
        "hookName": "createContainer",
        "path": HOOK,
        "args": ["nvidia-cdi-hook", *args],
        "env": ["NVIDIA_CTK_DEBUG=false"],
    }


def node(path: str, major: int, minor: int = 0, mode: int = 0o666, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path, "hostPath": "{root}" + path, "major": major}
    if minor:
        entry["minor"] = minor
    return {**entry, "fileMode": mode, "permissions": "rwm", **extra}


def options_for(root: Path, **changes: Any) -> Options:
    csv_files = tuple(str(p) for p in sorted((root / "csv").glob("*.csv")))
    return Options(mode="csv", driver_root=str(root), csv_files=csv_files, **changes)


def plain(found: Discovered) -> dict[str, Any]:
    return {
        "devices": {d.name: edits_to_plain(d.container_edits) for d in found.devices},
        "common": edits_to_plain(found.common),
    }


def orin_root(root: Path, *, nodes: bool = True) -> Path:
    """``rootfs-orin``: ``/dev/nvidia0``, Orin CSVs, ``libcuda.so.1.1``, ``libnvidia-ml.so.1``."""
    write_file(
        root / "csv/devices.csv",
        "dev, /dev/nvidia0\ndev, /dev/nvhost-ctrl-gpu\n",
    )
    write_file(
        root / "csv/drivers.csv",
        f"lib, {ORIN_LIBS}/libcuda.so.1.1\nlib, {ORIN_LIBS}/libnvidia-ml.so.1\n"
        "sym, /usr/lib/aarch64-linux-gnu/libcuda.so\n",
    )
    write_shared_object(root / ORIN_LIBS.lstrip("/") / "libcuda.so.1.1", soname="libcuda.so.1")
    write_shared_object(root / ORIN_LIBS.lstrip("/") / "libnvidia-ml.so.1", "libnvidia-ml.so.1")
    if nodes:
        make_char_device(root / "dev/nvidia0", NVIDIA_MAJOR, 0)
    return root


def orin_nvml(**changes: Any) -> FakeNvml:
    nvml = FakeNvml.with_gpus(1, names={0: "Orin (nvgpu)"}, cuda=13010, **changes)
    nvml.init()
    return nvml


# --- grammar ---------------------------------------------------------------------------------


@cases("generate/csv_lines.yaml")
def test_csv_line_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(CSVLineError) as caught:
            parse_line(case["line"])
        assert str(caught.value) == case["error"]
    else:
        assert parse_line(case["line"]) == MountSpec(case["type"], case["path"])


def test_parse_csv_skips_invalid_lines_and_logs_them(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cdi.generate.csv")
    text = "# comment\r\ndev, /dev/nvidia0\r\n\nbogus\nlib, /usr/lib/libfoo.so\n"
    assert parse_csv(text) == [
        MountSpec("dev", "/dev/nvidia0"),
        MountSpec("lib", "/usr/lib/libfoo.so"),
    ]
    assert "Skipping invalid mount spec 'bogus': failed to parse line: bogus" in caplog.text


def test_csv_files_in_order_missing_and_empty_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = write_file(tmp_path / "a.csv", "lib, /a\ndev, /dev/x\n")
    empty = write_file(tmp_path / "empty.csv", "# nothing\n")
    second = write_file(tmp_path / "b.csv", "lib, /b\nlib, /a\n")
    missing = tmp_path / "missing.csv"
    specs = read_csv_files([str(first), str(missing), str(empty), str(second)])
    assert [s.path for s in specs] == ["/a", "/dev/x", "/b", "/a"]
    assert MountSpecs.of(specs) == MountSpecs(dev=("/dev/x",), lib=("/a", "/b"))
    assert f"Skipping CSV file {missing}" in caplog.text
    assert f"Skipping CSV file {empty}: no mount specs" in caplog.text


@pytest.mark.parametrize(
    ("path", "patterns", "ignored"),
    [
        ("/usr/lib/libfoo.so", ["/usr/lib/libfoo.so"], True),
        ("/usr/lib/libfoo.so", ["/usr/lib/*.so"], True),
        ("/usr/lib/tegra/libfoo.so", ["/usr/lib/*.so"], False),
        ("/usr/lib/tegra/libfoo.so", ["**/libfoo.so"], True),
        ("/usr/lib/tegra/libfoo.so", ["**/lib*.so"], True),
        ("/usr/lib/tegra/libfoo.so", ["**/libbar.so", "**/libfoo.so"], True),
        ("/usr/lib/tegra/libfoo.so", ["libfoo.so"], False),
        ("/usr/lib/tegra/libfoo.so", ["[", "**/libbar.so"], False),
        ("/usr/lib/tegra/libfoo.so", [], False),
    ],
)
def test_ignore_patterns(path: str, patterns: list[str], ignored: bool) -> None:
    assert is_ignored(path, patterns) is ignored


# --- tegra detection -------------------------------------------------------------------------


def test_is_tegra_by_release_file(tmp_path: Path) -> None:
    root, sysfs = tmp_path / "root", tmp_path / "sys"
    assert not is_tegra(str(root), str(sysfs))
    write_file(root / "etc/nv_tegra_release", "# R36 (release)\n")
    assert is_tegra(str(root), str(sysfs))


def test_is_tegra_by_soc_family(tmp_path: Path) -> None:
    root, sysfs = tmp_path / "root", tmp_path / "sys"
    family = write_file(sysfs / "devices/soc0/family", "Tegra\n")
    assert is_tegra(str(root), str(sysfs))
    family.write_text("tegra234\n")
    assert is_tegra(str(root), str(sysfs))
    family.write_text("jetson\n")
    assert not is_tegra(str(root), str(sysfs))


def test_is_tegra_follows_links_inside_the_root_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = write_file(tmp_path / "elsewhere/nv_tegra_release", "# R36\n")
    link = symlink(root / "etc/nv_tegra_release", str(outside))
    # An absolute target is taken inside the root, where it does not exist.
    assert not is_tegra(str(root), str(tmp_path / "sys"))
    link.unlink()
    write_file(root / "opt/release", "# R36\n")
    symlink(link, "/opt/release")
    assert is_tegra(str(root), str(tmp_path / "sys"))


# --- pure CSV devices ------------------------------------------------------------------------

ORIN_COMMON = {
    "hooks": [
        hook("create-symlinks", "--link", f"libcuda.so.1::{ORIN_LIBS}/libcuda.so"),
        hook(
            "enable-cuda-compat",
            "--host-cuda-version=13.1",
            "--cuda-compat-container-root=/usr/local/cuda/compat_orin",
        ),
        hook("update-ldcache", "--folder", ORIN_LIBS),
    ],
    "mounts": [
        {
            "hostPath": "{root}" + f"{ORIN_LIBS}/libcuda.so.1.1",
            "containerPath": f"{ORIN_LIBS}/libcuda.so.1.1",
            "options": RO,
        },
        {
            "hostPath": "{root}" + f"{ORIN_LIBS}/libnvidia-ml.so.1",
            "containerPath": f"{ORIN_LIBS}/libnvidia-ml.so.1",
            "options": RO,
        },
    ],
}


@requires_root
def test_orin(tmp_path: Path) -> None:
    root = orin_root(tmp_path / "root")
    found = discover_csv(options_for(root), nvml=orin_nvml(), hooks=HookMaker(HOOK))
    expected = {
        "devices": {"0": {"deviceNodes": [node("/dev/nvidia0", NVIDIA_MAJOR)]}},
        "common": ORIN_COMMON,
    }
    assert plain(found) == fill_root(expected, root)


@requires_root
def test_orin_without_nvml_has_no_cuda_compat_hook(tmp_path: Path) -> None:
    root = orin_root(tmp_path / "root")
    found = discover_csv(options_for(root), nvml=None, hooks=HookMaker(HOOK))
    hooks = [h.args[1] for h in found.common.hooks]
    assert hooks == ["create-symlinks", "update-ldcache"]
    assert [d.name for d in found.devices] == ["0"]


def test_compat_root_only_on_orin_and_overridable(tmp_path: Path) -> None:
    root = orin_root(tmp_path / "root", nodes=False)
    custom = options_for(root, csv_compat_container_root="/opt/compat")
    found = discover_csv(custom, nvml=orin_nvml(), hooks=HookMaker(HOOK))
    compat = [h.args[2:] for h in found.common.hooks if h.args[1] == "enable-cuda-compat"]
    assert compat == [("--host-cuda-version=13.1", "--cuda-compat-container-root=/opt/compat")]

    xavier = FakeNvml.with_gpus(1, names={0: "Xavier"}, cuda=12060)
    xavier.init()
    found = discover_csv(custom, nvml=xavier, hooks=HookMaker(HOOK))
    compat = [h.args[2:] for h in found.common.hooks if h.args[1] == "enable-cuda-compat"]
    assert compat == [("--host-cuda-version=12.6",)]


def test_cuda_version_failure_drops_the_compat_hook(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = orin_root(tmp_path / "root", nodes=False)
    nvml = orin_nvml(fail={"cuda_driver_version": "ERROR_UNKNOWN"})
    found = discover_csv(options_for(root), nvml=nvml, hooks=HookMaker(HOOK))
    assert [h.args[1] for h in found.common.hooks] == ["create-symlinks", "update-ldcache"]
    assert "failed to get CUDA driver version: ERROR_UNKNOWN" in caplog.text


@requires_root
@pytest.mark.parametrize(
    ("strategies", "names"),
    [
        (("index", "uuid"), ["0"]),
        (("type-index",), ["gpu0"]),
        (("uuid", "type-index", "index"), ["gpu0", "0"]),
    ],
)
def test_pure_csv_names(tmp_path: Path, strategies: tuple[str, ...], names: list[str]) -> None:
    root = orin_root(tmp_path / "root")
    options = options_for(root, name_strategies=strategies)
    found = discover_csv(options, nvml=None, hooks=HookMaker(HOOK))
    assert [d.name for d in found.devices] == names
    assert len({d.container_edits for d in found.devices}) == 1


def test_pure_csv_uuid_strategy_alone_names_nothing(tmp_path: Path) -> None:
    root = orin_root(tmp_path / "root", nodes=False)
    with pytest.raises(CSVError, match=r"^no names defined$"):
        discover_csv(options_for(root, name_strategies=("uuid",)), nvml=None, hooks=HookMaker(HOOK))


@pytest.mark.parametrize("ids", [("1",), ("all", "GPU-1234"), ("0:0",)])
def test_pure_csv_accepts_only_all_and_0(tmp_path: Path, ids: tuple[str, ...]) -> None:
    root = orin_root(tmp_path / "root", nodes=False)
    bad = next(i for i in ids if i not in ("all", "0"))
    with pytest.raises(CSVError, match=f"^{re.escape(f'unsupported device id: {bad}')}$"):
        discover_csv(options_for(root, device_ids=ids), nvml=None, hooks=HookMaker(HOOK))


def test_pure_csv_without_device_ids_has_only_common_edits(tmp_path: Path) -> None:
    root = orin_root(tmp_path / "root", nodes=False)
    found = discover_csv(options_for(root, device_ids=()), nvml=None, hooks=HookMaker(HOOK))
    assert found.devices == ()
    assert found.common.mounts


@requires_root
def test_dev_entries_keep_only_char_devices(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_file(root / "csv/devices.csv", "dev, /dev/nv*\ndev, /dev/missing\n")
    make_char_device(root / "dev/nvhost-gpu", 500, 3, mode=0o660, gid=VIDEO_GID)
    make_char_device(root / "dev/nvmap", NVMAP_MAJOR, 120, mode=0o644)
    write_file(root / "dev/nvidia-not-a-node")
    found = discover_csv(options_for(root), nvml=None, hooks=HookMaker(HOOK))
    assert plain(found)["devices"] == fill_root(
        {
            "0": {
                "deviceNodes": [
                    node("/dev/nvhost-gpu", 500, 3, 0o660, gid=VIDEO_GID),
                    node("/dev/nvmap", NVMAP_MAJOR, 120, 0o644),
                ],
                "additionalGids": [VIDEO_GID],
            }
        },
        root,
    )


# --- common edits ----------------------------------------------------------------------------


def test_dir_lib_sym_and_tegra_release(tmp_path: Path) -> None:
    root = tmp_path / "root"
    tegra = root / "usr/lib/aarch64-linux-gnu/tegra"
    write_shared_object(tegra / "libnvrm_gpu.so", soname="libnvrm_gpu.so")
    write_shared_object(tegra / "libcuda.so.1.1", soname="libcuda.so.1")
    symlink(tegra / "libcuda.so.1", "libcuda.so.1.1")
    symlink(root / "usr/lib/aarch64-linux-gnu/libcuda.so", "tegra/libcuda.so")
    symlink(tegra / "libcuda.so", "libcuda.so.1")
    write_file(tegra / "nvidia_icd.json", "{}")
    symlink(
        root / "etc/vulkan/icd.d/nvidia_icd.json",
        "/usr/lib/aarch64-linux-gnu/tegra/nvidia_icd.json",
    )
    symlink(root / "usr/lib/aarch64-linux-gnu/libignored.so", "tegra/libnvrm_gpu.so")
    (root / "usr/share/nvidia/firmware").mkdir(parents=True)
    write_file(root / "etc/nv_tegra_release", "# R36\n")
    write_file(
        root / "csv/l4t.csv",
        "dir, /usr/share/nvidia/*\n"
        "dir, /usr/lib/aarch64-linux-gnu/tegra/libnvrm_gpu.so\n"  # not a directory
        "lib, /usr/lib/aarch64-linux-gnu/tegra/lib*.so*\n"
        "sym, /usr/lib/aarch64-linux-gnu/libcuda.so\n"
        "sym, /etc/vulkan/icd.d/nvidia_icd.json\n"
        "sym, /usr/lib/aarch64-linux-gnu/libignored.so\n"
        "sym, /usr/lib/aarch64-linux-gnu/libmissing.so\n",
    )
    options = options_for(root, csv_ignore_patterns=("**/libignored.so",), device_ids=())
    found = discover_csv(options, nvml=None, hooks=HookMaker(HOOK))
    tegra_dir = "/usr/lib/aarch64-linux-gnu/tegra"

    def ro(path: str) -> dict[str, Any]:
        return {"hostPath": "{root}" + path, "containerPath": path, "options": RO}

    expected = {
        "hooks": [
            hook(
                "create-symlinks",
                "--link",
                "tegra/libcuda.so::/usr/lib/aarch64-linux-gnu/libcuda.so",
                "--link",
                f"libcuda.so.1::{tegra_dir}/libcuda.so",
                "--link",
                f"libcuda.so.1.1::{tegra_dir}/libcuda.so.1",
                "--link",
                f"{tegra_dir}/nvidia_icd.json::/etc/vulkan/icd.d/nvidia_icd.json",
            ),
            hook(
                "create-symlinks",
                "--link",
                f"libcuda.so.1.1::{tegra_dir}/libcuda.so.1",
                "--link",
                f"libcuda.so.1::{tegra_dir}/libcuda.so",
            ),
            hook("update-ldcache", "--folder", tegra_dir),
        ],
        "mounts": [
            ro("/usr/share/nvidia/firmware"),
            ro(f"{tegra_dir}/libcuda.so.1.1"),
            ro(f"{tegra_dir}/libnvrm_gpu.so"),
            ro(f"{tegra_dir}/nvidia_icd.json"),
            ro("/etc/nv_tegra_release"),
        ],
    }
    assert plain(found)["common"] == fill_root(expected, root)


def test_sym_links_never_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    secret = write_file(tmp_path / "secret/libsecret.so.1", "host file")
    symlink(root / "usr/lib/libsecret.so", str(secret))
    # On the host this climbs out of the root to the secret; inside the root ".." stops at "/".
    symlink(root / "usr/lib/libup.so", "../../../secret/libsecret.so.1")
    write_file(root / "secret/libsecret.so.1", "in the root")
    write_file(root / "csv/l4t.csv", "sym, /usr/lib/libsecret.so\nsym, /usr/lib/libup.so\n")
    found = discover_csv(options_for(root, device_ids=()), nvml=None, hooks=HookMaker(HOOK))
    sources = [m.host_path for m in found.common.mounts]
    assert sources == [str(root / "secret/libsecret.so.1")]
    assert found.common.hooks[0].args[2:] == (
        "--link",
        f"{secret}::/usr/lib/libsecret.so",
        "--link",
        "../../../secret/libsecret.so.1::/usr/lib/libup.so",
    )


def test_library_search_paths_are_under_the_driver_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_shared_object(root / "opt/l4t/usr/lib/libnvos.so")
    write_shared_object(root / "usr/lib/libnvos.so")
    write_file(root / "csv/drivers.csv", "lib, /usr/lib/libnvos.so\n")
    options = options_for(root, library_search_paths=("/opt/l4t",), device_ids=())
    found = discover_csv(options, nvml=None, hooks=HookMaker(HOOK))
    assert [m.container_path for m in found.common.mounts] == [
        "/opt/l4t/usr/lib/libnvos.so",
        "/usr/lib/libnvos.so",
    ]


def test_ldconfig_path_and_disabled_hooks(tmp_path: Path) -> None:
    root = orin_root(tmp_path / "root", nodes=False)
    options = options_for(root, ldconfig_path="/sbin/ldconfig.real", device_ids=())
    found = discover_csv(options, nvml=orin_nvml(), hooks=HookMaker(HOOK))
    assert found.common.hooks[-1].args[1:4] == (
        "update-ldcache",
        "--ldconfig-path",
        "/sbin/ldconfig.real",
    )
    off = HookMaker(HOOK, HookSelection.of(disabled=[ALL]))
    found = discover_csv(options, nvml=orin_nvml(), hooks=off)
    assert found.common.hooks == ()
    assert len(found.common.mounts) == 2


# --- Thor / IGX: an iGPU beside a discrete GPU -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class IntegratedDevice(FakeDevice):
    """An iGPU: NVML has no PCI data for it."""

    @property
    def pci_bus_id(self) -> str:
        raise NvmlError("ERROR_NOT_SUPPORTED")


def thor_nvml() -> FakeNvml:
    nvml = FakeNvml.with_gpus(
        2,
        names={0: "NVIDIA Thor", 1: "NVIDIA RTX PRO 6000"},
        bus_ids={1: "00000000:09:00.0"},
    )
    first = nvml.devices[0]
    fields = {f.name: getattr(first, f.name) for f in dataclasses.fields(first)}
    nvml.devices[0] = IntegratedDevice(**fields)
    nvml.init()
    return nvml


def thor_root(root: Path) -> Path:
    """``rootfs-thor-dgpu``: ``/dev/nvidia{0,1,2}``, ``nvidiactl``, ``nvmap`` (0400, gid 44)."""
    for minor in (0, 1, 2):
        make_char_device(root / f"dev/nvidia{minor}", NVIDIA_MAJOR, minor)
    make_char_device(root / "dev/nvidiactl", NVIDIA_MAJOR, 255)
    make_char_device(root / "dev/nvmap", NVMAP_MAJOR, 120, mode=0o400, gid=VIDEO_GID)
    write_file(
        root / "csv/devices.csv",
        "dev, /dev/nvidia0\ndev, /dev/nvidia1\ndev, /dev/nvidiactl\ndev, /dev/nvmap\n",
    )
    write_shared_object(root / "usr/lib/aarch64-linux-gnu/nvidia/libcuda.so.1.1")
    write_file(root / "csv/drivers.csv", f"lib, {ORIN_LIBS}/libcuda.so.1.1\n")
    return root


THOR_NVIDIACTL = node("/dev/nvidiactl", NVIDIA_MAJOR, 255)
THOR_NVMAP = node("/dev/nvmap", NVMAP_MAJOR, 120, 0o400, gid=VIDEO_GID)


@requires_root
def test_thor_with_a_discrete_gpu(tmp_path: Path) -> None:
    root = thor_root(tmp_path / "root")
    nvml = thor_nvml()
    options = options_for(root, sysfs_root=str(tmp_path / "sys"), name_strategies=("index",))
    found = discover_csv(options, nvml=nvml, hooks=HookMaker(HOOK))
    devices = plain(found)["devices"]
    assert devices == fill_root(
        {
            "0": {
                "deviceNodes": [
                    node("/dev/nvidia0", NVIDIA_MAJOR),
                    THOR_NVIDIACTL,
                    THOR_NVMAP,
                    node("/dev/nvidia2", NVIDIA_MAJOR, 2),
                ],
                "additionalGids": [VIDEO_GID],
            },
            "1": {
                "deviceNodes": [node("/dev/nvidia1", NVIDIA_MAJOR, 1), THOR_NVIDIACTL, THOR_NVMAP],
                "additionalGids": [VIDEO_GID],
            },
        },
        root,
    )
    # Thor is no Orin: CUDA compat without the Orin container root.
    compat = [h.args[2:] for h in found.common.hooks if h.args[1] == "enable-cuda-compat"]
    assert compat == [("--host-cuda-version=13.1",)]


@requires_root
def test_thor_names_and_device_ids(tmp_path: Path) -> None:
    root = thor_root(tmp_path / "root")
    nvml = thor_nvml()
    dgpu = nvml.devices[1].uuid
    options = options_for(root, sysfs_root=str(tmp_path / "sys"))
    found = discover_csv(options, nvml=nvml, hooks=HookMaker(HOOK))
    assert [d.name for d in found.devices] == ["0", nvml.devices[0].uuid, "1", dgpu]
    by_uuid = discover_csv(
        dataclasses.replace(options, device_ids=(dgpu,)), nvml=nvml, hooks=HookMaker(HOOK)
    )
    assert [d.name for d in by_uuid.devices] == ["1", dgpu]
    for bad in ("2", "1:0", "GPU-00000000-0000-0000-0000-000000000000"):
        with pytest.raises(CSVError, match=f"^{re.escape(f'unsupported device id: {bad}')}$"):
            discover_csv(
                dataclasses.replace(options, device_ids=(bad,)), nvml=nvml, hooks=HookMaker(HOOK)
            )


@requires_root
def test_thor_with_multiple_devices_disabled_is_pure_csv(tmp_path: Path) -> None:
    root = thor_root(tmp_path / "root")
    options = options_for(root, feature_flags=frozenset({DISABLE_MULTIPLE_CSV_DEVICES}))
    found = discover_csv(options, nvml=thor_nvml(), hooks=HookMaker(HOOK))
    assert [d.name for d in found.devices] == ["0"]
    paths = [n.path for n in found.devices[0].container_edits.device_nodes]
    assert paths == ["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl", "/dev/nvmap"]


def test_mixed_mode_needs_the_igpu_first(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_file(root / "csv/devices.csv", "dev, /dev/nvidia0\n")
    nvml = FakeNvml.with_gpus(2)
    nvml.init()
    with pytest.raises(CSVError, match=r"^device at index 0 is not an integrated GPU$"):
        discover_csv(options_for(root), nvml=nvml, hooks=HookMaker(HOOK))


def test_integrated_gpu_detection() -> None:
    nvml = thor_nvml()
    assert is_integrated(nvml.devices[0])
    assert not is_integrated(nvml.devices[1])
    at_igpu_address = FakeNvml.with_gpus(1, bus_ids={0: "00000000:01:00.0"}).devices[0]
    assert is_integrated(at_igpu_address)
