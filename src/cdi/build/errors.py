"""Errors of the build executor.

``str(error)`` is the text BuildKit puts after ``failed to solve:``, so the CLI prints
``ERROR: failed to build: failed to solve: <str(error)>`` exactly as ``docker buildx build``
does; where an error belongs to a Dockerfile line, ``line`` says which (1-based) so the CLI can
show the excerpt BuildKit shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdi.errors import CDIError
from cdi.gotext import quote


class BuildError(CDIError):
    """A build failed; ``str()`` is BuildKit's message after ``failed to solve:``."""

    def __init__(self, message: str, *, line: int | None = None, end_line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.end_line = end_line if end_line is not None else line
        #: The Dockerfile's name and text, for showing the lines the error is about.
        self.filename: str | None = None
        self.source: str | None = None


class DockerfileError(BuildError):
    """The Dockerfile is malformed or uses something the executor does not support."""


def parse_error(message: str, line: int | None, end_line: int | None = None) -> DockerfileError:
    """BuildKit's ``dockerfile parse error on line N: ...`` for a problem at *line*."""
    if line is None:
        return DockerfileError(f"dockerfile parse error: {message}")
    return DockerfileError(
        f"dockerfile parse error on line {line}: {message}", line=line, end_line=end_line
    )


class SourceError(BuildError):
    """A base image or build context could not be found or read."""


class StepError(BuildError):
    """A build step (RUN, COPY, ...) failed while it ran."""


class ProcessError(StepError):
    """A RUN step failed once its container was being set up: BuildKit's one report for that.

    ``str()`` is ``process "<args>" did not complete successfully: <cause>``, *args* joined by
    spaces and quoted as Go's ``%q`` -- the shell form's ``/bin/sh -c cmd``, the exec form's
    own list -- whatever the cause: the exit status (``exit code: 1``), a user that is not in
    the root's passwd file, a device that fails to inject, the runtime failing to start it.
    """

    def __init__(self, args: Sequence[str], cause: str) -> None:
        self.process_args = tuple(args)
        self.cause = cause
        super().__init__(f"process {quote(' '.join(args))} did not complete successfully: {cause}")


class DeviceLoadError(BuildError):
    """The device check refused the build before anything ran (BuildKit's LLB load check)."""
