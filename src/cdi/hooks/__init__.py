"""``cdi-hook``: the OCI hooks generated specs call, confined to the container root.

Each subcommand works on the container's root filesystem only through
:class:`cdi.hooks.rootfs.ContainerRoot`, which resolves every path inside the root with
directory descriptors, so that no link in the container can lead a hook out of it.
"""
