"""Errors of the runtime layer: setting up to run a container, and running it."""

from __future__ import annotations

from collections.abc import Sequence

from cdi.errors import CDIError

#: Exit statuses a command line reports for failures that are not the command's own, following
#: ``docker run``: the runtime failed, the command could not be invoked, it was not found.
STATUS_RUNTIME_FAILED = 125
STATUS_CANNOT_INVOKE = 126
STATUS_NOT_FOUND = 127
#: As ``timeout(1)`` reports a command it stopped.
STATUS_TIMED_OUT = 124


class RuntimeSetupError(CDIError):
    """Something needed to run a container is missing or unusable.

    The OCI runtime binary, root privileges, the container's root filesystem, a static busybox:
    raised before any container is created, with a message that says what to install or do.
    """


class ContainerError(CDIError):
    """The OCI runtime failed; the container's command did not produce an exit status.

    ``runtime_messages`` holds the runtime's own error messages (for runc: from its JSON log),
    ``container_id`` the id the container was (to be) created under, and ``exit_status`` the
    status a command line should exit with, the way ``docker run`` does: 127 when the command
    was not found, 126 when it could not be executed, 124 on a timeout, 125 otherwise.
    """

    def __init__(
        self,
        message: str,
        *,
        container_id: str | None = None,
        runtime_messages: Sequence[str] = (),
        exit_status: int = STATUS_RUNTIME_FAILED,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.container_id = container_id
        self.runtime_messages = list(runtime_messages)
        self.exit_status = exit_status


class ContainerTimeoutError(ContainerError):
    """The container ran longer than its timeout and was killed."""

    def __init__(self, message: str, *, container_id: str | None = None, timeout: float) -> None:
        super().__init__(message, container_id=container_id, exit_status=STATUS_TIMED_OUT)
        self.timeout = timeout
