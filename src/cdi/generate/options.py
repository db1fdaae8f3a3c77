"""What a caller asks of the NVIDIA generator; the command line fills it from flags."""

from __future__ import annotations

from dataclasses import dataclass

from cdi.generate.hooks import DEFAULT_HOOK_PATH

MODES = ("auto", "csv", "gdrcopy", "gds", "imex", "management", "mofed", "nvml", "nvswitch", "wsl")
NAME_STRATEGIES = ("index", "uuid", "type-index")
DEFAULT_NAME_STRATEGIES = ("index", "uuid")

ENABLE_EXPLICIT_DRIVER_LIBRARIES = "enable-explicit-driver-libraries"
DISABLE_NVSANDBOXUTILS = "disable-nvsandboxutils"
ENABLE_COHERENT_ANNOTATIONS = "enable-coherent-annotations"
DISABLE_MULTIPLE_CSV_DEVICES = "disable-multiple-csv-devices"
NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES = "no-additional-gids-for-device-nodes"
DISABLE_IPC_DISCOVERER = "disable-ipc-discoverer"
FEATURE_FLAGS = (
    ENABLE_EXPLICIT_DRIVER_LIBRARIES,
    DISABLE_NVSANDBOXUTILS,
    ENABLE_COHERENT_ANNOTATIONS,
    DISABLE_MULTIPLE_CSV_DEVICES,
    NO_ADDITIONAL_GIDS_FOR_DEVICE_NODES,
    DISABLE_IPC_DISCOVERER,
)
#: Old spellings still accepted.
FEATURE_FLAG_ALIASES = {"disable-nvsandbox-utils": DISABLE_NVSANDBOXUTILS}

DEFAULT_CSV_FILES = tuple(
    f"/etc/nvidia-container-runtime/host-files-for-container.d/{name}.csv"
    for name in ("devices", "drivers", "l4t")
)


@dataclass(frozen=True)
class Options:
    """Generation options. Roots are host directories standing for ``/``; ``dev_root`` empty
    means the driver root."""

    mode: str = "auto"
    driver_root: str = "/"
    dev_root: str = ""
    sysfs_root: str = "/sys"
    procfs_root: str = "/proc"
    vendor: str = "nvidia.com"
    device_class: str = "gpu"
    name_strategies: tuple[str, ...] = DEFAULT_NAME_STRATEGIES
    device_ids: tuple[str, ...] = ("all",)
    no_all_device: bool = False
    library_search_paths: tuple[str, ...] = ()
    config_search_paths: tuple[str, ...] = ()
    hook_path: str = DEFAULT_HOOK_PATH
    ldconfig_path: str = ""
    disabled_hooks: tuple[str, ...] = ()
    enabled_hooks: tuple[str, ...] = ()
    feature_flags: frozenset[str] = frozenset()
    csv_files: tuple[str, ...] = DEFAULT_CSV_FILES
    csv_ignore_patterns: tuple[str, ...] = ()
    csv_compat_container_root: str = ""
    debug: bool = False
    #: ``uname -r`` for the firmware search; empty means this machine's.
    kernel_release: str = ""
    #: ``amd64`` or ``arm64`` for the Vulkan ICD file name; empty means this machine's.
    architecture: str = ""

    @property
    def device_root(self) -> str:
        return self.dev_root or self.driver_root

    def has(self, flag: str) -> bool:
        return flag in self.feature_flags
