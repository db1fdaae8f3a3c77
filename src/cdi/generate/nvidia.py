"""``cdi generate nvidia``: a CDI spec for the NVIDIA GPUs of a host, as ``nvidia-ctk cdi
generate`` writes it.

:func:`generate` resolves the mode, runs its discovery over the roots in the options, adds
what every mode shares (``NVIDIA_VISIBLE_DEVICES=void``), and assembles the spec: de-duplicated,
simplified, sorted, with the merged ``all`` device and the minimum ``cdiVersion``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cdi.generate import csv as csv_mode
from cdi.generate import edits, gated, management, nvmlmode, transform, wsl
from cdi.generate import nvml as nvml_module
from cdi.generate.errors import GenerateError
from cdi.generate.hooks import DISABLE_DEVICE_NODE_MODIFICATION, HookMaker, HookSelection
from cdi.generate.locate import Locator, library_locator, shared_views
from cdi.generate.naming import check_strategies
from cdi.generate.nvml import Nvml, NvmlError
from cdi.generate.options import (
    ENABLE_COHERENT_ANNOTATIONS,
    FEATURE_FLAG_ALIASES,
    FEATURE_FLAGS,
    Options,
)
from cdi.generate.version import DriverLibraries, detect_driver
from cdi.names import validate_class_name, validate_vendor_name
from cdi.spec.model import ContainerEdits, Device, Spec

_log = logging.getLogger(__name__)

#: Every mode's common edits end with this: the runtime's own NVIDIA hook, if any, must not
#: also inject devices.
VISIBLE_DEVICES_VOID = "NVIDIA_VISIBLE_DEVICES=void"
EMPTY_DEVICE_ENV = "NVCT_EMPTY_DEVICE="

NvmlFactory = Callable[[str, list[str]], Nvml]


class _NvmlSession:
    """NVML opened at most once per generation, initialised on first use, shut down at the
    end; a failure to load or initialise is remembered and raised to each user."""

    def __init__(self, factory: Callable[[], Nvml]) -> None:
        self._factory = factory
        self._nvml: Nvml | None = None
        self._error: NvmlError | None = None

    def get(self) -> Nvml:
        if self._error is not None:
            raise self._error
        if self._nvml is None:
            try:
                nvml = self._factory()
                nvml.init()
            except NvmlError as err:
                self._error = err
                raise
            self._nvml = nvml
        return self._nvml

    def available(self) -> bool:
        try:
            self.get()
        except NvmlError:
            return False
        return True

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.shutdown()
            except NvmlError as err:
                _log.warning("failed to shutdown NVML: %s", err)
            self._nvml = None


@contextmanager
def _session(
    options: Options, libraries: Locator, nvml: Nvml | None, factory: NvmlFactory
) -> Iterator[_NvmlSession]:
    if nvml is not None:
        session = _NvmlSession(lambda: nvml)
    else:
        session = _NvmlSession(
            lambda: factory(options.driver_root, libraries.locate("libnvidia-ml.so.1"))
        )
    try:
        yield session
    finally:
        session.close()


def resolve_mode(options: Options, session: _NvmlSession) -> str:
    """The mode ``auto`` stands for on this host: WSL when dxcore loads, CSV on Tegra
    systems without NVML or with an integrated GPU, NVML otherwise."""
    if options.mode != "auto":
        return options.mode
    if wsl.has_dxcore(options.driver_root):
        return "wsl"
    has_nvml = session.available()
    if csv_mode.is_tegra(options.driver_root, options.sysfs_root) and not has_nvml:
        return "csv"
    if has_nvml and _has_integrated_gpu(session.get()):
        return "csv"
    if not has_nvml:
        _log.warning("Unsupported platform detected; assuming nvml")
    return "nvml"


def _has_integrated_gpu(nvml: Nvml) -> bool:
    try:
        for index in range(nvml.device_count()):
            name = nvml.device_by_index(index).name
            if "(nvgpu)" in name or "NVIDIA Thor" in name:
                return True
    except NvmlError as err:
        _log.debug("cannot list NVML devices: %s", err)
    return False


def _hook_maker(options: Options, mode: str) -> HookMaker:
    selection = HookSelection.of(options.disabled_hooks, options.enabled_hooks)
    if mode == "management":
        selection = selection.with_disabled(DISABLE_DEVICE_NODE_MODIFICATION)
    return HookMaker(options.hook_path, selection, options.debug)


def _driver(options: Options, libraries: Locator, session: _NvmlSession) -> DriverLibraries:
    def nvml_version() -> str:
        return session.get().driver_version()

    return detect_driver(options.driver_root, libraries, nvml_version)


def discover(
    options: Options, mode: str, session: _NvmlSession, libraries: Locator
) -> edits.Discovered:
    hooks = _hook_maker(options, mode)
    if mode == "nvml":
        try:
            nvml = session.get()
        except NvmlError as err:
            raise GenerateError(f"failed to initialize NVML: {err}") from None
        return nvmlmode.discover_nvml(
            options, nvml, _driver(options, libraries, session), libraries, hooks
        )
    if mode == "management":
        return management.discover_management(
            options, _driver(options, libraries, session), libraries, hooks
        )
    if mode == "csv":
        nvml_or_none = session.get() if session.available() else None
        return csv_mode.discover_csv(options, nvml=nvml_or_none, hooks=hooks)
    if mode == "wsl":
        return wsl.discover_wsl(options, hooks=hooks)
    if mode == "imex":
        return gated.discover_imex(options)
    if mode in gated.GATED_NODES:
        return gated.discover_gated(options)
    raise GenerateError(f"invalid discovery mode: {mode!r}")


def checked_options(options: Options) -> Options:
    """*options* with feature flags in their current spelling; raises for bad names, logs a
    warning for feature flags this version does not know."""
    validate_vendor_name(options.vendor)
    validate_class_name(options.device_class)
    strategies = check_strategies(options.name_strategies)
    flags = set()
    for given in options.feature_flags:
        flag = FEATURE_FLAG_ALIASES.get(given, given)
        if flag not in FEATURE_FLAGS:
            _log.warning("Ignoring unknown feature flag %s", flag)
        elif flag == ENABLE_COHERENT_ANNOTATIONS:
            # The split into coherent and non-coherent specs is not implemented yet.
            _log.warning("Ignoring feature flag %s: not supported yet", flag)
        flags.add(flag)
    HookSelection.of(options.disabled_hooks, options.enabled_hooks)  # rejects "enable all"
    return dataclasses.replace(options, name_strategies=strategies, feature_flags=frozenset(flags))


def generate(
    options: Options, *, nvml: Nvml | None = None, nvml_factory: NvmlFactory | None = None
) -> Spec:
    """The spec for *options*. *nvml* replaces the real NVML (tests pass a fake); otherwise it
    is loaded from the driver root by *nvml_factory* (default
    :func:`cdi.generate.nvml.open_nvml`). Raises :class:`~cdi.errors.CDIError`."""
    options = checked_options(options)
    with shared_views():
        return _generate(options, nvml, nvml_factory)


def _generate(options: Options, nvml: Nvml | None, nvml_factory: NvmlFactory | None) -> Spec:
    libraries = library_locator(options.driver_root, options.library_search_paths)
    add_all = not options.no_all_device
    empty = "none" in options.device_ids
    if empty:
        # Common edits only, and one device that changes nothing but marks the request.
        options = dataclasses.replace(options, device_ids=())
        if add_all:
            _log.warning("Disabling generation of 'all' device since 'none' was requested")
            add_all = False
    with _session(options, libraries, nvml, nvml_factory or nvml_module.open_nvml) as session:
        found = discover(options, resolve_mode(options, session), session, libraries)
    if empty:
        none = Device("none", container_edits=ContainerEdits(env=(EMPTY_DEVICE_ENV,)))
        found = edits.Discovered((none,), found.common)
    common = edits.merge([found.common, ContainerEdits(env=(VISIBLE_DEVICES_VOID,))])
    return transform.assemble(
        f"{options.vendor}/{options.device_class}", found.devices, common, add_all=add_all
    )
