"""The manifests under ``deploy/`` agree with the code they deploy.

Every Kubernetes object is checked against the ``kubernetes`` client's model of its kind
(unknown or misspelt fields fail); the containers' commands and flags against the commands
themselves; the host paths against the commands' defaults (mounted at the same path, as the
kubelet and the runtime are told host paths); the RBAC rules against the requests the code
really sends (recorded by a stub API server); and the examples against each other (driver,
class, template, resource names) and the fake devices' spec.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner
from stubapiserver import Request, running, status

import cdi
from cdi.cli.main import main as cli
from cdi.registry import DEFAULT_SPEC_DIRS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DRIVER = "fake.example.com"
KIND = "example.com/fake"

#: Every Kubernetes manifest and the objects (apiVersion, kind, name) it holds, in order.
MANIFESTS = {
    "namespace.yaml": [("v1", "Namespace", "cdi-system")],
    "device-plugin/daemonset.yaml": [("apps/v1", "DaemonSet", "cdi-device-plugin")],
    "dra/rbac.yaml": [
        ("v1", "ServiceAccount", "cdi-dra-driver"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "cdi-dra-driver"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "cdi-dra-driver"),
    ],
    "dra/daemonset.yaml": [("apps/v1", "DaemonSet", "cdi-dra-driver")],
    "dra/deviceclass.yaml": [("resource.k8s.io/v1", "DeviceClass", DRIVER)],
    "examples/dra-pod.yaml": [
        ("resource.k8s.io/v1", "ResourceClaimTemplate", "one-fake-device"),
        ("v1", "Pod", "dra-fake-device"),
    ],
    "examples/device-plugin-pod.yaml": [("v1", "Pod", "device-plugin-fake-device")],
}
#: The files that are no Kubernetes objects: kind's cluster config, a CDI spec, the image.
OTHER_FILES = {"README.md", "Dockerfile", "kind/cluster.yaml", "kind/cdi/example.com-fake.yaml"}


def _load(relative: str) -> list[dict[str, Any]]:
    with (DEPLOY / relative).open(encoding="utf-8") as handle:
        return [document for document in yaml.safe_load_all(handle) if document is not None]


def _object(relative: str, kind: str) -> dict[str, Any]:
    (found,) = [item for item in _load(relative) if item["kind"] == kind]
    return found


def _container(daemonset: dict[str, Any]) -> dict[str, Any]:
    (container,) = daemonset["spec"]["template"]["spec"]["containers"]
    return container


# -- the files ------------------------------------------------------------------------------


def test_every_file_is_known() -> None:
    found = {path.relative_to(DEPLOY).as_posix() for path in DEPLOY.rglob("*") if path.is_file()}
    assert found == set(MANIFESTS) | OTHER_FILES


@pytest.mark.parametrize("relative", sorted(MANIFESTS))
def test_objects_and_their_schema(relative: str) -> None:
    from kubernetes import client

    documents = _load(relative)
    described = [(item["apiVersion"], item["kind"], item["metadata"]["name"]) for item in documents]
    assert described == MANIFESTS[relative]
    for item in documents:
        # Every kind here has a V1<Kind> model; validating rejects unknown fields.
        model = getattr(client, f"V1{item['kind']}")
        model.model_validate(item)


def test_the_readme_names_every_file() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for relative in sorted(set(MANIFESTS) | OTHER_FILES - {"README.md"}):
        assert f"deploy/{relative}" in readme, relative


def test_the_dockerfile_copies_what_exists_and_installs_the_extra() -> None:
    lines = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    assert copies, "no COPY"
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
    assert any("'/src[kubernetes]'" in line for line in lines if line.startswith("RUN "))


# -- commands, flags and host paths ---------------------------------------------------------


@cache
def _command(mode: str) -> click.Command:
    group = cli.get_command(click.Context(cli), "kubelet-plugin")
    assert isinstance(group, click.Group)
    command = group.get_command(click.Context(group), mode)
    assert command is not None, mode
    return command


def _options(mode: str) -> dict[str, click.Option]:
    options: dict[str, click.Option] = {}
    for param in _command(mode).params:
        if isinstance(param, click.Option):
            for flag in [*param.opts, *param.secondary_opts]:
                options[flag] = param
    return options


def _flags(container: dict[str, Any]) -> dict[str, str]:
    """The ``--flag=value`` (or bare ``--flag``) arguments after ``cdi kubelet-plugin MODE``."""
    flags: dict[str, str] = {}
    for argument in container["command"][3:]:
        assert argument.startswith("--"), f"{argument}: write flags as --flag=value"
        flag, _equals, value = argument.partition("=")
        flags[flag] = value
    return flags


MODES = {"device-plugin/daemonset.yaml": "device-plugin", "dra/daemonset.yaml": "dra"}


@pytest.mark.parametrize("relative", sorted(MODES))
def test_the_command_and_its_flags_exist(relative: str) -> None:
    mode = MODES[relative]
    container = _container(_object(relative, "DaemonSet"))
    assert container["command"][:3] == ["cdi", "kubelet-plugin", mode]
    options = _options(mode)
    help_text = CliRunner().invoke(cli, ["kubelet-plugin", mode, "--help"]).output
    for flag, value in _flags(container).items():
        assert flag in options, f"cdi kubelet-plugin {mode} has no {flag}"
        assert flag in help_text
        option = options[flag]
        if option.is_flag:
            assert value == "", f"{flag} takes no value"
        elif isinstance(option.type, click.Choice):
            assert value in option.type.choices, f"{flag}={value}"
    for option in _command(mode).params:
        if option.required:
            assert any(flag in _flags(container) for flag in option.opts), option.opts


def _mounts(daemonset: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Container path -> (host path, read-only), for the hostPath volumes."""
    volumes = {
        volume["name"]: volume["hostPath"]["path"]
        for volume in daemonset["spec"]["template"]["spec"]["volumes"]
        if "hostPath" in volume
    }
    return {
        mount["mountPath"]: (volumes[mount["name"]], bool(mount.get("readOnly")))
        for mount in _container(daemonset)["volumeMounts"]
        if mount["name"] in volumes
    }


def _effective(mode: str, flags: dict[str, str], flag: str) -> Any:
    """What *flag* is in the container: its value there, else the command's default."""
    if flag in flags:
        return flags[flag]
    default = _options(mode)[flag].default
    return default() if callable(default) else default


def _assert_host_path(daemonset: dict[str, Any], path: str, *, writable: bool) -> None:
    """*path* is the same path on the host (mounted at itself, or under such a mount)."""
    for container_path, (host_path, read_only) in _mounts(daemonset).items():
        if path == container_path or path.startswith(container_path.rstrip("/") + "/"):
            assert host_path == container_path, f"{path}: mounted from {host_path}"
            assert not (writable and read_only), f"{path} must be writable"
            return
    pytest.fail(f"{path} is not mounted from the host")


def test_device_plugin_host_paths() -> None:
    daemonset = _object("device-plugin/daemonset.yaml", "DaemonSet")
    flags = _flags(_container(daemonset))
    directory = _effective("device-plugin", flags, "--device-plugin-dir")
    assert directory == "/var/lib/kubelet/device-plugins"
    _assert_host_path(daemonset, directory, writable=True)
    assert "--spec-dir" not in flags  # the runtime's directories, the defaults
    for spec_dir in DEFAULT_SPEC_DIRS:
        _assert_host_path(daemonset, spec_dir, writable=False)


def test_dra_host_paths_and_node_name() -> None:
    daemonset = _object("dra/daemonset.yaml", "DaemonSet")
    container = _container(daemonset)
    flags = _flags(container)
    registry_dir = _effective("dra", flags, "--plugins-registry")
    assert registry_dir == "/var/lib/kubelet/plugins_registry"
    _assert_host_path(daemonset, registry_dir, writable=True)
    plugin_dir = _effective("dra", flags, "--plugin-dir") or posixpath.join(
        "/var/lib/kubelet/plugins", flags["--driver-name"]
    )
    _assert_host_path(daemonset, plugin_dir, writable=True)
    cdi_root = _effective("dra", flags, "--cdi-root")
    assert cdi_root == "/var/run/cdi"
    _assert_host_path(daemonset, cdi_root, writable=True)
    # The static specs only (the claims' own specs in cdi-root are not the node's devices).
    assert flags["--spec-dir"] == "/etc/cdi"
    _assert_host_path(daemonset, "/etc/cdi", writable=False)
    for spec_dir in DEFAULT_SPEC_DIRS:
        _assert_host_path(daemonset, spec_dir, writable=spec_dir == cdi_root)
    assert flags["--node-name"] == "$(NODE_NAME)"
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in (
        container["env"]
    )


def test_the_dra_plugin_dir_default_is_under_the_mounted_plugins_dir() -> None:
    """The default is documented as /var/lib/kubelet/plugins/<driver>: the mount above
    covers it only if the command agrees."""
    help_text = CliRunner().invoke(cli, ["kubelet-plugin", "dra", "--help"]).output
    assert "/var/lib/kubelet/plugins/<driver>" in " ".join(help_text.split())


# -- RBAC -----------------------------------------------------------------------------------

#: HTTP method (and whether the path names one object) -> the RBAC verb.
VERBS = {("GET", True): "get", ("GET", False): "list", ("POST", False): "create",
         ("PUT", True): "update", ("DELETE", True): "delete", ("PATCH", True): "patch"}  # fmt: skip


def _rule_for(request: Request) -> tuple[str, str, str]:
    """(API group, resource, verb) of a request to the API server."""
    parts = request.path.strip("/").split("/")
    if parts[0] == "api":  # /api/v1/...
        group, rest = "", parts[2:]
    else:  # /apis/<group>/<version>/...
        group, rest = parts[1], parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource, named = rest[0], len(rest) > 1
    return group, resource, VERBS[(request.method, named)]


def _answer(request: Request) -> tuple[int, Any]:
    if request.method == "GET" and request.path.endswith("/resourceslices"):
        return 200, {"kind": "ResourceSliceList", "metadata": {}, "items": []}
    if request.path.startswith("/api/v1/nodes/"):
        return 200, {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n", "uid": "u"}}
    if request.method in ("POST", "PUT"):
        return 200, {**request.body, "metadata": {"name": "s", **request.body["metadata"]}}
    if "/resourceclaims/" in request.path:
        claim = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                 "metadata": {"name": "c", "namespace": "default", "uid": "u"}}  # fmt: skip
        return 200, claim
    return status(200, "Success", "deleted")


def _requests_of_the_code() -> list[Request]:
    """The requests the DRA driver's API adapters send, each call once."""
    from cdi.kubelet.claims import KubernetesClaimSource
    from cdi.kubelet.slices import KubernetesSliceAPI

    directory = Path(tempfile.mkdtemp(prefix="k", dir="/tmp"))
    with running(_answer) as server:
        kubeconfig = server.kubeconfig(directory)
        slices = KubernetesSliceAPI(kubeconfig=kubeconfig)
        slices.list(DRIVER, "n")
        slices.create({"metadata": {"generateName": "n-"}, "spec": {}})
        slices.replace("s", {"metadata": {"name": "s"}, "spec": {}})
        slices.delete("s")
        slices.node_owner("n")
        KubernetesClaimSource(kubeconfig=kubeconfig).get("default", "c")
        return list(server.requests)


def test_rbac_covers_what_the_code_calls() -> None:
    role = _object("dra/rbac.yaml", "ClusterRole")
    allowed = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    needed = {_rule_for(request) for request in _requests_of_the_code()}
    assert needed == {
        ("resource.k8s.io", "resourceslices", "list"),
        ("resource.k8s.io", "resourceslices", "create"),
        ("resource.k8s.io", "resourceslices", "update"),
        ("resource.k8s.io", "resourceslices", "delete"),
        ("", "nodes", "get"),
        ("resource.k8s.io", "resourceclaims", "get"),
    }
    assert needed <= allowed, sorted(needed - allowed)
    assert allowed <= needed, f"more than the code needs: {sorted(allowed - needed)}"


def test_the_binding_gives_the_role_to_the_dra_daemonsets_account() -> None:
    account = _object("dra/rbac.yaml", "ServiceAccount")
    role = _object("dra/rbac.yaml", "ClusterRole")
    binding = _object("dra/rbac.yaml", "ClusterRoleBinding")
    daemonset = _object("dra/daemonset.yaml", "DaemonSet")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert daemonset["metadata"]["namespace"] == account["metadata"]["namespace"]


def test_the_device_plugin_needs_no_api_token() -> None:
    daemonset = _object("device-plugin/daemonset.yaml", "DaemonSet")
    assert daemonset["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


# -- the examples fit together --------------------------------------------------------------


def test_the_device_class_selects_the_driver() -> None:
    flags = _flags(_container(_object("dra/daemonset.yaml", "DaemonSet")))
    assert flags["--driver-name"] == DRIVER
    device_class = _object("dra/deviceclass.yaml", "DeviceClass")
    (selector,) = device_class["spec"]["selectors"]
    assert selector == {"cel": {"expression": f"device.driver == '{DRIVER}'"}}


def test_the_dra_pod_uses_the_template_of_the_class() -> None:
    template = _object("examples/dra-pod.yaml", "ResourceClaimTemplate")
    pod = _object("examples/dra-pod.yaml", "Pod")
    (request,) = template["spec"]["spec"]["devices"]["requests"]
    assert request["exactly"]["deviceClassName"] == DRIVER
    (claim,) = pod["spec"]["resourceClaims"]
    assert claim["resourceClaimTemplateName"] == template["metadata"]["name"]
    assert template["metadata"]["namespace"] == pod["metadata"]["namespace"]
    (container,) = pod["spec"]["containers"]
    assert container["resources"]["claims"] == [{"name": claim["name"]}]


def test_the_device_plugin_pod_asks_for_the_resource() -> None:
    flags = _flags(_container(_object("device-plugin/daemonset.yaml", "DaemonSet")))
    pod = _object("examples/device-plugin-pod.yaml", "Pod")
    (container,) = pod["spec"]["containers"]
    assert container["resources"]["limits"] == {flags["--resource-name"]: "1"}


def test_the_fake_devices_are_the_kind_both_modes_serve() -> None:
    path = DEPLOY / "kind" / "cdi" / "example.com-fake.yaml"
    spec = cdi.load_spec(str(path))
    assert spec.kind == KIND
    assert spec.cdi_version == cdi.minimum_version(spec)
    assert [device.name for device in spec.devices] == ["dev0", "dev1", "dev2", "dev3"]
    for device in spec.devices:  # env only: a kind node has no such hardware
        edits = device.container_edits
        assert edits.env and not (edits.device_nodes or edits.mounts or edits.hooks)
    for relative in MODES:
        assert _flags(_container(_object(relative, "DaemonSet")))["--kind"] == KIND


def test_the_kind_cluster_mounts_the_fake_devices_at_etc_cdi() -> None:
    (config,) = _load("kind/cluster.yaml")
    assert (config["apiVersion"], config["kind"]) == ("kind.x-k8s.io/v1alpha4", "Cluster")
    workers = [node for node in config["nodes"] if node["role"] == "worker"]
    assert workers
    for worker in workers:
        assert {"hostPath": "deploy/kind/cdi", "containerPath": "/etc/cdi", "readOnly": True} in (
            worker["extraMounts"]
        )
    assert os.path.isdir(ROOT / "deploy" / "kind" / "cdi")
    assert any("enable_cdi = true" in patch for patch in config["containerdConfigPatches"])
