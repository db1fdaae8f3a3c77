"""The names a device plugin uses: its kind, resource name, socket file, annotation prefix.

The kubelet accepts a plugin only for an *extended* resource name (its
``IsExtendedResourceName``): ``<domain>/<name>``, the domain outside ``kubernetes.io``, and
``requests.<resource name>`` a valid qualified name -- so the domain is a DNS subdomain of
at most 244 characters and the name at most 63 characters of letters, digits, ``-``, ``_``
and ``.``, starting and ending alphanumeric. Checking here turns a registration the kubelet
would refuse into a usage error at start-up.
"""

from __future__ import annotations

from cdi.errors import CDIError
from cdi.gotext import quote
from cdi.names import validate_kind

_QUOTA_PREFIX = "requests."
_NATIVE_DOMAIN = "kubernetes.io/"
_MAX_SUBDOMAIN = 253
_MAX_LABEL = 63
_LOWER_ALPHANUMERICS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALPHANUMERICS = _LOWER_ALPHANUMERICS | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_CHARACTERS = _ALPHANUMERICS | frozenset("-_.")

#: Where the kubelet looks for device plugins.
DEFAULT_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
#: The kubelet's own socket in the device plugin directory.
KUBELET_SOCKET = "kubelet.sock"


class PluginNameError(CDIError):
    """A kind, resource name or socket name the device plugin cannot use."""


def check_kind(kind: str) -> str:
    """*kind* when it is a valid CDI kind (``vendor.com/class``)."""
    try:
        validate_kind(kind)
    except CDIError as err:
        raise PluginNameError(str(err)) from None
    return kind


def check_resource_name(name: str) -> str:
    """*name* when the kubelet takes it as an extended resource name."""
    problem = _resource_name_problem(name)
    if problem is not None:
        raise PluginNameError(f"invalid resource name {quote(name)}: {problem}")
    return name


def _resource_name_problem(name: str) -> str | None:
    if "/" not in name:
        return "want <domain>/<name>, such as vendor.com/gpu"
    if _NATIVE_DOMAIN in name:
        return "the kubernetes.io domain is for the resources of Kubernetes itself"
    if name.startswith(_QUOTA_PREFIX):
        return f'it must not start with "{_QUOTA_PREFIX}"'
    domain, _, local = name.partition("/")
    if "/" in local:
        return "only one / is allowed"
    quota_domain = _QUOTA_PREFIX + domain  # what the kubelet checks, through resource quotas
    if len(quota_domain) > _MAX_SUBDOMAIN:
        return f"the domain is longer than {_MAX_SUBDOMAIN - len(_QUOTA_PREFIX)} characters"
    if not all(_is_dns_label(label) for label in domain.split(".")):
        return "the domain must be a DNS subdomain (lower case letters, digits, '-' and '.')"
    if not local:
        return "the name after the / is empty"
    if len(local) > _MAX_LABEL:
        return f"the name after the / is longer than {_MAX_LABEL} characters"
    if not (
        local[0] in _ALPHANUMERICS
        and local[-1] in _ALPHANUMERICS
        and _NAME_CHARACTERS.issuperset(local)
    ):
        return (
            "the name after the / must be letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def _is_dns_label(label: str) -> bool:
    return (
        0 < len(label) <= _MAX_LABEL
        and _LOWER_ALPHANUMERICS.issuperset(label.replace("-", ""))
        and label[0] != "-"
        and label[-1] != "-"
    )


def check_annotation_prefix(prefix: str) -> str:
    """*prefix* when it can start an annotation key: a DNS subdomain and ``/``, like the
    default ``cdi.k8s.io/`` (runtimes read only that one; another is for runtimes that are
    configured for it)."""
    domain, slash, rest = prefix.rpartition("/")
    problem = None
    if not slash or rest:
        problem = 'it must end with "/"'
    elif not domain:
        problem = 'a DNS subdomain must come before the "/"'
    elif len(domain) > _MAX_SUBDOMAIN:
        problem = f"the domain is longer than {_MAX_SUBDOMAIN} characters"
    elif not all(_is_dns_label(label) for label in domain.split(".")):
        problem = "the domain must be a DNS subdomain (lower case letters, digits, '-' and '.')"
    if problem is not None:
        raise PluginNameError(f"invalid annotation prefix {quote(prefix)}: {problem}")
    return prefix


def default_socket_name(resource_name: str) -> str:
    """The plugin's socket file for *resource_name*: ``cdi-vendor.com-gpu.sock`` for
    ``vendor.com/gpu`` (a valid resource name has one ``/`` and no other character a file
    name cannot hold)."""
    return "cdi-" + resource_name.replace("/", "-") + ".sock"


def check_socket_name(name: str) -> str:
    """*name* when it can be the plugin's socket: a file name in the device plugin
    directory (the kubelet gets it as the endpoint), not the kubelet's own."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        problem = "want a file name in the device plugin directory"
    elif name == KUBELET_SOCKET:
        problem = "that is the kubelet's socket"
    else:
        return name
    raise PluginNameError(f"invalid socket name {quote(name)}: {problem}")
