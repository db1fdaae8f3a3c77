"""The build executor behind ``cdi build``: Dockerfiles built with RUN steps under runc.

::

    from cdi.build import BuildOptions, build, parse_output
    result = build(BuildOptions(context=Path("."), outputs=[parse_output("type=local,dest=out")]))

Modules, one concept each: :mod:`~cdi.build.dockerfile` (parsing, ``RUN --device``, the labs
gate), :mod:`~cdi.build.gocsv` (``--device`` values split as Go's ``encoding/csv`` does),
:mod:`~cdi.build.expand` (variable expansion), :mod:`~cdi.build.context` (build contexts and
base images), :mod:`~cdi.build.layers` (unpacking layers), :mod:`~cdi.build.fs` (paths inside a
root, copying), :mod:`~cdi.build.users`, :mod:`~cdi.build.image` (image config),
:mod:`~cdi.build.options` (what a build is asked to do), :mod:`~cdi.build.plan` (loading:
stages, sources, the device check), :mod:`~cdi.build.executor` (running the stages),
:mod:`~cdi.build.stage_state`, :mod:`~cdi.build.run_step` (RUN in runc),
:mod:`~cdi.build.copy_step` (COPY/ADD), :mod:`~cdi.build.progress`, :mod:`~cdi.build.output`,
:mod:`~cdi.build.errors` (what a failed build raises), :mod:`~cdi.build.mutable` (the
methods of ``@dataclass`` for the build's state classes, without its import cost), and the
build cache, :mod:`cdi.build.cache`.
"""

from __future__ import annotations

from cdi.lazy import lazy_exports

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from cdi.build.dockerfile import DeviceFlag, Dockerfile, parse, parse_device
    from cdi.build.errors import (
        BuildError,
        DeviceLoadError,
        DockerfileError,
        ProcessError,
        SourceError,
        StepError,
    )
    from cdi.build.executor import build
    from cdi.build.options import BuildOptions, BuildResult
    from cdi.build.output import OutputError, OutputSpec, parse_output
    from cdi.build.progress import PlainProgress, Progress, TtyProgress

#: public name -> the module that defines it (imported on first use: ``cdi build --help`` or
#: a build without outputs need not load the executor's every phase)
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("DeviceFlag", "Dockerfile", "parse", "parse_device"), "cdi.build.dockerfile"),
    **dict.fromkeys(
        (
            "BuildError",
            "DeviceLoadError",
            "DockerfileError",
            "ProcessError",
            "SourceError",
            "StepError",
        ),
        "cdi.build.errors",
    ),
    "build": "cdi.build.executor",
    **dict.fromkeys(("BuildOptions", "BuildResult"), "cdi.build.options"),
    **dict.fromkeys(("OutputError", "OutputSpec", "parse_output"), "cdi.build.output"),
    **dict.fromkeys(("PlainProgress", "Progress", "TtyProgress"), "cdi.build.progress"),
}

__all__ = [
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "DeviceFlag",
    "DeviceLoadError",
    "Dockerfile",
    "DockerfileError",
    "OutputError",
    "OutputSpec",
    "PlainProgress",
    "ProcessError",
    "Progress",
    "SourceError",
    "StepError",
    "TtyProgress",
    "build",
    "parse",
    "parse_device",
    "parse_output",
]

if not TYPE_CHECKING:  # hidden from type checkers, which would then accept any name
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
