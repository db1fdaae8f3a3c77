"""What a build is asked to do (:class:`BuildOptions`) and what it produced (:class:`BuildResult`).

Kept apart from the executor so that every phase of a build can read the options without
importing the driver that runs the phases.
"""

from __future__ import annotations

from cdi.build.mutable import field, mutable_record
from cdi.policy.entitlements import Entitlements

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path
    from typing import IO

    from cdi.build.image import ImageConfig
    from cdi.build.output import OCIResult, OutputSpec
    from cdi.build.progress import Progress
    from cdi.policy.devices import DevicePolicy


@mutable_record
class BuildOptions:
    """Everything a build needs; the CLI fills it from its flags."""

    #: The main build context directory.
    context: Path
    #: The Dockerfile (default: ``Dockerfile`` in the context); ignored with ``dockerfile_text``.
    dockerfile: Path | None = None
    #: The Dockerfile's text, when it does not come from a file (``-f -``).
    dockerfile_text: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    #: ``--build-context`` NAME -> SRC as given.
    build_contexts: Mapping[str, str] = field(default_factory=dict)
    #: The stage to build (default: the last).
    target: str | None = None
    outputs: Sequence[OutputSpec] = ()
    entitlements: Entitlements = field(default_factory=Entitlements)
    #: The device policy; None when CDI is disabled (then any ``--device`` fails the build).
    policy: DevicePolicy | None = None
    runtime: str = "runc"
    #: The runtime's state directory (``--root``); None: ``$CDI_RUNTIME_ROOT`` or its default.
    runtime_root: str | None = None
    progress: Progress | None = None
    #: Where stage root filesystems are kept while building (default: the system temp dir).
    workdir: Path | None = None
    #: Where ``dest=-`` outputs are written.
    stdout: IO[bytes] | None = None
    #: Seconds a RUN step may take (None: no limit).
    step_timeout: float | None = None
    #: The build cache directory (see :mod:`cdi.build.cache`); None: a cache of this build
    #: alone, deleted with it.
    cache_dir: Path | None = None
    #: Take no step from the cache (``--no-cache``); their results are still stored.
    no_cache: bool = False


@mutable_record
class BuildResult:
    """What a successful build produced."""

    config: ImageConfig
    target: str
    oci: list[OCIResult] = field(default_factory=list)
