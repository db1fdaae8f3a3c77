"""A stage while it executes: its filesystem state, image configuration and build arguments.

The driver creates one per stage. Its filesystem is a :class:`~cdi.build.cache.snapshots.
Snapshot` that each step replaces (a cache hit, or the step's committed result); while a
step that was not cached runs, :attr:`StageState.root` is the writable root it works on. A
later stage reads an earlier one's snapshot (``FROM`` an earlier stage, ``COPY --from``).
"""

from __future__ import annotations

from cdi.build.cache.snapshots import Snapshot
from cdi.build.fs import Root
from cdi.build.image import ImageConfig
from cdi.build.mutable import field, mutable_record
from cdi.build.plan import StagePlan


@mutable_record
class StageState:
    """A stage while it executes."""

    plan: StagePlan
    snapshot: Snapshot
    config: ImageConfig
    args: dict[str, str] = field(default_factory=dict)
    #: Predefined proxy build arguments: in RUN environments without an ARG.
    proxy: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False
    step: int = 1
    #: The writable root of the step that is running (None between steps).
    working: Root | None = None

    @property
    def root(self) -> Root:
        """The root the running step changes; only a step's action may ask for it."""
        assert self.working is not None, "the stage's root is only writable inside a step"
        return self.working

    def expansion_env(self) -> dict[str, str]:
        # ENV wins over ARG of the same name, as in BuildKit.
        return {**self.args, **self.config.env_map()}

    def run_env(self, *, proxy: bool = True) -> list[str]:
        """A RUN step's environment; without the proxy arguments when *proxy* is false (they
        are not part of its cache key, as in BuildKit)."""
        env = list(self.config.env)
        names = {entry.partition("=")[0] for entry in env}
        for key, value in {**(self.proxy if proxy else {}), **self.args}.items():
            if key not in names:
                env.append(f"{key}={value}")
                names.add(key)
        return env
