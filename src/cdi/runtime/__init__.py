"""The runtime layer: run a command in a container under a real OCI runtime (runc).

Build a spec with :func:`default_oci_spec`, a root filesystem with :func:`make_busybox_rootfs`
(or bring your own), and run it with :func:`run_container`::

    from cdi.runtime import default_oci_spec, make_busybox_rootfs, run_container
    rootfs = make_busybox_rootfs("/tmp/rootfs")
    status = run_container(default_oci_spec(["sh", "-c", "echo hi"]), rootfs)

Needs root, runc (Debian package ``runc``) and, for the busybox root, a static busybox
(``busybox-static``). Containers are kept in the runtime's state directory: ``runtime_root=``,
else ``$CDI_RUNTIME_ROOT``, else the runtime's default (runc: ``/run/runc``).
"""

from cdi.lazy import lazy_exports

TYPE_CHECKING = False  # typing is not imported at run time (start path)
if TYPE_CHECKING:
    from cdi.runtime.errors import ContainerError, ContainerTimeoutError, RuntimeSetupError
    from cdi.runtime.oci import DEFAULT_CAPABILITIES, DEFAULT_PATH, default_oci_spec
    from cdi.runtime.rootfs import find_busybox, make_busybox_rootfs
    from cdi.runtime.runc import (
        RUNTIME_ROOT_ENV,
        check_privileges,
        find_runtime,
        new_container_id,
        resolve_runtime_root,
        run_container,
    )

#: public name -> the module that defines it (imported on first use: a build, which runs
#: containers, need not load the root filesystem maker)
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        ("ContainerError", "ContainerTimeoutError", "RuntimeSetupError"), "cdi.runtime.errors"
    ),
    **dict.fromkeys(
        ("DEFAULT_CAPABILITIES", "DEFAULT_PATH", "default_oci_spec"), "cdi.runtime.oci"
    ),
    **dict.fromkeys(("find_busybox", "make_busybox_rootfs"), "cdi.runtime.rootfs"),
    **dict.fromkeys(
        (
            "RUNTIME_ROOT_ENV",
            "check_privileges",
            "find_runtime",
            "new_container_id",
            "resolve_runtime_root",
            "run_container",
        ),
        "cdi.runtime.runc",
    ),
}

__all__ = [
    "DEFAULT_CAPABILITIES",
    "DEFAULT_PATH",
    "RUNTIME_ROOT_ENV",
    "ContainerError",
    "ContainerTimeoutError",
    "RuntimeSetupError",
    "check_privileges",
    "default_oci_spec",
    "find_busybox",
    "find_runtime",
    "make_busybox_rootfs",
    "new_container_id",
    "resolve_runtime_root",
    "run_container",
]

if not TYPE_CHECKING:  # hidden from type checkers, which would then accept any name
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
