"""``cdi generate``: write CDI specs for the hardware of this host.

``cdi generate nvidia`` takes ``nvidia-ctk cdi generate``'s flags and environment variables,
so scripts and systemd units written for it work unchanged. The generator lives in
:mod:`cdi.generate`; this module only reads flags and renders the result.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from cdi.cli.common import fail
from cdi.cli.lazygroup import lazy_group
from cdi.generate.config import config_path, configured_driver_root
from cdi.generate.hooks import resolve_hook_path
from cdi.generate.options import DEFAULT_CSV_FILES, DEFAULT_NAME_STRATEGIES, MODES, Options


class _ListOption(click.Option):
    """A repeatable option whose environment variable holds a comma-separated list, as
    nvidia-ctk's (urfave/cli) string slices do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("multiple", True)
        super().__init__(*args, **kwargs)

    def value_from_envvar(self, ctx: click.Context) -> Any:
        raw = self.resolve_envvar_value(ctx)
        if raw is None:
            return None
        return tuple(item.strip() for item in raw.split(",") if item.strip())


class _StderrHandler(logging.Handler):
    """The generator's log lines on stderr: ``Warning: ...`` (``Debug:``/``Error:``)."""

    def emit(self, record: logging.LogRecord) -> None:
        label = "Warning" if record.levelno == logging.WARNING else record.levelname.title()
        click.echo(f"{label}: {record.getMessage()}", err=True)


#: command name -> (module defining a command of that name, short help for --help)
VENDOR_COMMANDS: dict[str, tuple[str, str]] = {
    "amd": ("cdi.cli.generate_amd", "Generate the CDI spec of this host's AMD GPUs."),
    "intel": ("cdi.cli.generate_intel", "Generate the CDI specs of Intel GPUs, Gaudi or NPUs."),
    "devices": ("cdi.cli.generate_devices", "Generate a CDI spec for any character devices."),
}


@click.group(cls=lazy_group(VENDOR_COMMANDS))
def generate() -> None:
    """Write CDI specs for the hardware of this host."""


def _env(name: str) -> str:
    return f"NVIDIA_CTK_{name}"


@generate.command("nvidia")
@click.option(
    "--output",
    default="",
    envvar=_env("CDI_OUTPUT_FILE_PATH"),
    metavar="FILE",
    help="Write the spec to FILE (atomically, mode 0644); default: standard output.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"], case_sensitive=False),
    default=None,
    envvar=_env("CDI_GENERATE_OUTPUT_FORMAT"),
    help="yaml (default) or json. Without it, --output's extension (.json, .yaml, "
    ".yml) decides; given, it wins over the extension (with a warning).",
)
@click.option(
    "--mode",
    "--discovery-mode",
    "mode",
    default="auto",
    envvar=_env("CDI_GENERATE_MODE"),
    type=click.Choice(MODES),
    help="auto: wsl when the root has WSL's libdxcore.so, csv on Tegra without NVML or with an "
    "integrated GPU, else nvml. management: one device 'all' with every node. "
    "gds, gdrcopy, mofed, nvswitch, imex: those modules' nodes only.",
)
@click.option(
    "--driver-root",
    default="",
    envvar=_env("DRIVER_ROOT"),
    metavar="DIR",
    help="Where the driver is installed (libraries, binaries, configs); default: "
    "nvidia-container-cli.root of the toolkit's config.toml, else /.",
)
@click.option(
    "--config",
    "config",
    default="",
    envvar=_env("CONFIG"),
    metavar="FILE",
    help="The NVIDIA Container Toolkit's config.toml, read for the default driver root; "
    "default /etc/nvidia-container-runtime/config.toml (a missing file is fine).",
)
@click.option(
    "--dev-root",
    default="",
    envvar=_env("DEV_ROOT"),
    metavar="DIR",
    help="Where /dev is searched; default: the driver root.",
)
@click.option(
    "--sysfs-root",
    default="/sys",
    metavar="DIR",
    help="The directory standing for /sys (DRM nodes, firmware path, Tegra "
    "detection); default /sys.",
)
@click.option(
    "--procfs-root",
    default="/proc",
    metavar="DIR",
    help="The directory standing for /proc (MIG capability minors); default /proc.",
)
@click.option(
    "--device-name-strategy",
    "name_strategies",
    cls=_ListOption,
    metavar="NAME",
    envvar=_env("CDI_GENERATE_DEVICE_NAME_STRATEGIES"),
    help='index ("0", "0:1"), uuid (GPU-..., MIG-...) or type-index (gpu0, '
    "mig0:1); repeatable, each adds every device under another name. "
    "Default: index and uuid.",
)
@click.option(
    "--device-id",
    "--device-ids",
    "--device",
    "--devices",
    "device_ids",
    cls=_ListOption,
    metavar="ID",
    envvar=_env("CDI_GENERATE_DEVICE_IDS"),
    help="Only these devices: an index, i:j (MIG), GPU-/MIG- UUID, all (default) "
    "or none (one empty device 'none', no 'all').",
)
@click.option(
    "--no-all-device",
    is_flag=True,
    envvar=_env("CDI_GENERATE_NO_ALL_DEVICE"),
    help="Do not add the merged device 'all'.",
)
@click.option(
    "--vendor",
    "--cdi-vendor",
    default="nvidia.com",
    envvar=_env("CDI_GENERATE_VENDOR"),
    help="Vendor of the spec's kind; default nvidia.com.",
)
@click.option(
    "--class",
    "--cdi-class",
    "device_class",
    default="gpu",
    envvar=_env("CDI_GENERATE_CLASS"),
    help="Class of the spec's kind; default gpu.",
)
@click.option(
    "--library-search-path",
    "library_search_paths",
    cls=_ListOption,
    metavar="DIR",
    envvar=_env("CDI_GENERATE_LIBRARY_SEARCH_PATHS"),
    help="Search driver libraries only in DIR (a host path, not under the driver "
    "root); repeatable.",
)
@click.option(
    "--config-search-path",
    "config_search_paths",
    cls=_ListOption,
    metavar="DIR",
    envvar=_env("CDI_GENERATE_CONFIG_SEARCH_PATHS"),
    help="Search graphics config files (EGL, Vulkan, X11) only in DIR; repeatable.",
)
@click.option(
    "--hook-path",
    "--nvidia-cdi-hook-path",
    "--nvidia-ctk-path",
    "hook_path",
    default="",
    envvar=_env("CDI_HOOK_PATH"),
    metavar="PATH",
    help="The hook binary the spec calls; default: cdi-hook, else nvidia-cdi-hook, on PATH "
    "or the usual directories, else /usr/bin/nvidia-cdi-hook. Any binary with "
    "nvidia-cdi-hook's arguments works; for nvidia-ctk the hooks run as 'nvidia-ctk hook ...'.",
)
@click.option(
    "--ldconfig-path",
    default="",
    envvar=_env("CDI_GENERATE_LDCONFIG_PATH"),
    metavar="PATH",
    help="ldconfig for the update-ldcache hook to run.",
)
@click.option(
    "--disable-hook",
    "--disable-hooks",
    "disabled_hooks",
    cls=_ListOption,
    metavar="NAME",
    envvar=_env("CDI_GENERATE_DISABLED_HOOKS"),
    help="Leave out this hook (create-symlinks, update-ldcache, enable-cuda-compat, "
    "disable-device-node-modification, update-application-profile, chmod) or all; "
    "repeatable.",
)
@click.option(
    "--enable-hook",
    "--enable-hooks",
    "enabled_hooks",
    cls=_ListOption,
    metavar="NAME",
    envvar=_env("CDI_GENERATE_ENABLED_HOOKS"),
    help="Keep this hook even if disabled (chmod is off by default); repeatable.",
)
@click.option(
    "--feature-flag",
    "--feature-flags",
    "feature_flags",
    cls=_ListOption,
    metavar="FLAG",
    envvar=_env("CDI_GENERATE_FEATURE_FLAGS"),
    help="enable-explicit-driver-libraries, disable-nvsandboxutils, "
    "enable-coherent-annotations, disable-multiple-csv-devices, "
    "no-additional-gids-for-device-nodes, disable-ipc-discoverer; repeatable.",
)
@click.option(
    "--csv.file",
    "csv_files",
    cls=_ListOption,
    metavar="FILE",
    envvar=_env("CDI_GENERATE_CSV_FILES"),
    help="CSV mode: a file listing dev, dir, lib and sym entries; repeatable. "
    "Default: devices.csv, drivers.csv and l4t.csv in "
    "/etc/nvidia-container-runtime/host-files-for-container.d.",
)
@click.option(
    "--csv.ignore-pattern",
    "csv_ignore_patterns",
    cls=_ListOption,
    metavar="GLOB",
    envvar=_env("CDI_GENERATE_CSV_IGNORE_PATTERNS"),
    help="CSV mode: skip sym entries matching GLOB (**/NAME matches a basename).",
)
@click.option(
    "--csv.compat-container-root",
    "csv_compat_container_root",
    default="",
    envvar=_env("CDI_GENERATE_CSV_CONTAINER_COMPAT_ROOT"),
    metavar="DIR",
    help="CSV mode: CUDA forward-compatibility libraries in the container "
    "(default on Orin: /usr/local/cuda/compat_orin).",
)
@click.option(
    "-d",
    "--debug",
    is_flag=True,
    envvar=_env("DEBUG"),
    help="Log debug messages; the hooks also get NVIDIA_CTK_DEBUG=true.",
)
@click.option("--quiet", is_flag=True, envvar=_env("QUIET"), help="Log errors only.")
@click.pass_context
def nvidia(ctx: click.Context, /, **flags: Any) -> None:
    """Generate the CDI spec of this host's NVIDIA GPUs, as nvidia-ctk cdi generate does.

    Devices are named 0, 1, ... and GPU-<uuid> (MIG devices i:j and MIG-<uuid>), plus 'all';
    the spec also mounts the driver's libraries, binaries, sockets and firmware and calls
    the hooks that link and cache them. Exit status 1 when NVML, the driver or a device is
    missing (with nvidia-ctk's message), 2 for bad flags. For example:

    \b
      cdi generate nvidia --output /var/run/cdi/nvidia.yaml
      cdi generate nvidia --driver-root /run/nvidia/driver --dev-root / --format json
      cdi generate nvidia --mode management --vendor management.nvidia.com
    """
    from cdi.errors import CDIError
    from cdi.generate.nvidia import generate as generate_spec
    from cdi.generate.output import choose_format, render, write_output

    _log_to_stderr(flags["debug"], flags["quiet"])
    try:
        options = _options(flags)
        fmt, warning = choose_format(
            flags["output"], flags["fmt"] or "yaml", fmt_explicit=flags["fmt"] is not None
        )
        if warning:
            logging.getLogger("cdi.generate").warning("%s", warning)
        spec = generate_spec(options)
        click.echo(f"Generated CDI spec with version {spec.cdi_version}", err=True)
        if flags["output"]:
            write_output(spec, flags["output"], fmt)
        else:
            sys.stdout.buffer.write(render(spec, fmt))
            sys.stdout.flush()
    except CDIError as err:
        fail(ctx, str(err))


def _options(flags: dict[str, Any]) -> Options:
    return Options(
        mode=flags["mode"],
        driver_root=flags["driver_root"]
        or configured_driver_root(config_path(flags["config"]))
        or "/",
        dev_root=flags["dev_root"],
        sysfs_root=flags["sysfs_root"],
        procfs_root=flags["procfs_root"],
        vendor=flags["vendor"],
        device_class=flags["device_class"],
        name_strategies=flags["name_strategies"] or DEFAULT_NAME_STRATEGIES,
        device_ids=flags["device_ids"] or ("all",),
        no_all_device=flags["no_all_device"],
        library_search_paths=flags["library_search_paths"],
        config_search_paths=flags["config_search_paths"],
        hook_path=resolve_hook_path(flags["hook_path"]),
        ldconfig_path=flags["ldconfig_path"],
        disabled_hooks=flags["disabled_hooks"],
        enabled_hooks=flags["enabled_hooks"],
        feature_flags=frozenset(flags["feature_flags"]),
        csv_files=flags["csv_files"] or DEFAULT_CSV_FILES,
        csv_ignore_patterns=flags["csv_ignore_patterns"],
        csv_compat_container_root=flags["csv_compat_container_root"],
        debug=flags["debug"],
    )


def _log_to_stderr(debug: bool, quiet: bool) -> None:
    logger = logging.getLogger("cdi.generate")
    logger.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.propagate = False
