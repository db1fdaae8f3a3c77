"""A stage while it executes: its root filesystem, image configuration and build arguments.

The driver creates one per stage; RUN and COPY/ADD steps read and change it, and a later stage
reads an earlier one's root (``FROM`` an earlier stage, ``COPY --from``).
"""

from __future__ import annotations

from cdi.build.fs import Root
from cdi.build.image import ImageConfig
from cdi.build.mutable import field, mutable_record
from cdi.build.plan import StagePlan


@mutable_record
class StageState:
    """A stage while it executes."""

    plan: StagePlan
    root: Root
    config: ImageConfig
    args: dict[str, str] = field(default_factory=dict)
    #: Predefined proxy build arguments: in RUN environments without an ARG.
    proxy: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False
    step: int = 1

    def expansion_env(self) -> dict[str, str]:
        # ENV wins over ARG of the same name, as in BuildKit.
        return {**self.args, **self.config.env_map()}

    def run_env(self) -> list[str]:
        env = list(self.config.env)
        names = {entry.partition("=")[0] for entry in env}
        for key, value in {**self.proxy, **self.args}.items():
            if key not in names:
                env.append(f"{key}={value}")
                names.add(key)
        return env
