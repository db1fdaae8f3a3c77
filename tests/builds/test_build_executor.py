"""The executor without containers: the load-time device check, stages, COPY/ADD, config.

Builds here have no RUN step that would run (or use a runtime that does not exist, to prove
nothing ran), so they need no runc; copies set owners, so they need root.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any, cast

import pytest
from buildtools import NO_RUNTIME, FakePolicy, run_build, write_tree

from cdi.build import BuildError, DeviceLoadError, ProcessError, Progress, StepError, parse_output
from cdi.build.fs import Root
from cdi.build.image import ImageConfig
from cdi.build.output import write_oci
from cdi.errors import CDIError
from cdi.policy import DevicePolicy, DeviceRequest, Entitlements

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="builds set file owners (needs root)")

LABS = "# syntax=docker/dockerfile:1-labs\n"
REFUSED = (
    "failed to load LLB: device vendor1.com/device=foo is requested by the build but not allowed"
)


def policy(fake: FakePolicy) -> DevicePolicy:
    return cast(DevicePolicy, fake)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path / "ctx",
        {"hello.txt": "hello\n", "dir/a.txt": "a\n", "dir/sub/b.txt": "b\n", "x.log": "log\n"},
    )


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A tiny root filesystem used as a named context."""
    root = write_tree(
        tmp_path / "base",
        {
            "etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            "etc/group": "root:x:0:\napp:x:1000:\nstaff:x:50:app\n",
        },
    )
    os.chmod(root, 0o755)
    return root


# --- the device check at load time ------------------------------------------------------------


def test_refused_device_fails_before_any_step(context: Path, base: Path) -> None:
    fake = FakePolicy(refuse=["vendor1.com/device=foo"])
    dockerfile = LABS + "FROM base\nRUN echo first\nRUN --device=vendor1.com/device=foo env\n"
    with pytest.raises(DeviceLoadError) as raised:
        run_build(
            context,
            dockerfile,
            build_contexts={"base": str(base)},
            policy=policy(fake),
            runtime=NO_RUNTIME,
        )
    assert str(raised.value) == REFUSED
    # Only the RUN with devices was checked, as the whole request list, optional by default.
    assert fake.authorized == [[DeviceRequest("vendor1.com/device=foo", optional=True)]]
    assert fake.prepared == [] and fake.injected == []


def test_refusal_happens_before_earlier_steps_run(context: Path, base: Path) -> None:
    fake = FakePolicy(refuse=["vendor1.com/device=foo"])
    shown = Progress()
    dockerfile = LABS + "FROM base\nCOPY hello.txt /\nRUN --device=vendor1.com/device=foo env\n"
    with pytest.raises(DeviceLoadError):
        run_build(
            context,
            dockerfile,
            build_contexts={"base": str(base)},
            policy=policy(fake),
            progress=shown,
        )
    assert not [v.name for v in shown.vertices if v.name.startswith("[1/")]


def test_all_device_steps_of_all_needed_stages_are_checked(context: Path, base: Path) -> None:
    fake = FakePolicy()
    dockerfile = (
        LABS
        + "FROM base AS one\nRUN --device=a.com/x=1,required --device=b.com/y true\n"
        + "FROM base AS unused\nRUN --device=c.com/z true\n"
        + "FROM base\nCOPY --from=one / /one\nRUN --device=d.com/w true\n"
    )
    with pytest.raises(BuildError, match="nonexistent"):
        run_build(
            context,
            dockerfile,
            build_contexts={"base": str(base)},
            policy=policy(fake),
            runtime=NO_RUNTIME,
        )
    assert fake.authorized == [
        [DeviceRequest("a.com/x=1", optional=False), DeviceRequest("b.com/y", optional=True)],
        [DeviceRequest("d.com/w", optional=True)],
    ]


def test_devices_without_cdi_fail_clearly(context: Path, base: Path) -> None:
    with pytest.raises(DeviceLoadError) as raised:
        run_build(
            context,
            LABS + "FROM base\nRUN --device=vendor1.com/device true\n",
            build_contexts={"base": str(base)},
            policy=None,
            runtime=NO_RUNTIME,
        )
    assert str(raised.value) == (
        "failed to load LLB: CDI is disabled, but the build requests vendor1.com/device"
    )


def test_labs_gate_before_policy(context: Path, base: Path) -> None:
    fake = FakePolicy()
    with pytest.raises(BuildError) as raised:
        run_build(
            context,
            "FROM base\nRUN --device=vendor1.com/device true\n",
            build_contexts={"base": str(base)},
            policy=policy(fake),
        )
    assert str(raised.value) == (
        "device feature is only supported in Dockerfile frontend 1.14.0-labs or later"
    )
    assert raised.value.line == 2 and fake.authorized == []


def test_buildkit_syntax_build_arg_selects_labs(context: Path, base: Path) -> None:
    fake = FakePolicy(refuse=["vendor1.com/device=foo"])
    with pytest.raises(DeviceLoadError):
        run_build(
            context,
            "FROM base\nRUN --device=vendor1.com/device=foo true\n",
            build_contexts={"base": str(base)},
            build_args={"BUILDKIT_SYNTAX": "docker/dockerfile:1.14-labs"},
            policy=policy(fake),
        )


def test_entitlements_reach_the_policy(context: Path, base: Path) -> None:
    fake = FakePolicy(refuse=["vendor1.com/device=foo"])
    with pytest.raises(BuildError, match="nonexistent"):
        run_build(
            context,
            LABS + "FROM base\nRUN --device=vendor1.com/device=foo true\n",
            build_contexts={"base": str(base)},
            policy=policy(fake),
            entitlements=Entitlements(all_devices=True),
            runtime=NO_RUNTIME,
        )


def test_runtime_failure_is_reported_as_the_process_failing(context: Path, base: Path) -> None:
    with pytest.raises(ProcessError) as raised:
        run_build(
            context,
            'FROM base\nRUN ["/bin/app", "x y"]\n',
            build_contexts={"base": str(base)},
            runtime=NO_RUNTIME,
        )
    assert str(raised.value).startswith(
        'process "/bin/app x y" did not complete successfully: OCI runtime "/nonexistent/runc"'
    )
    assert raised.value.process_args == ("/bin/app", "x y")
    assert raised.value.line == 2


class FailingSetup(FakePolicy):
    def prepare(self, requests: Any, progress: Any = None) -> None:
        raise CDIError("failed to create vendor.com/gpu device: no network")


def test_device_setup_failure_is_not_a_process_failure(context: Path, base: Path) -> None:
    # BuildKit sets on-demand devices up before the step's process: its own message.
    with pytest.raises(BuildError) as raised:
        run_build(
            context,
            LABS + "FROM base\nRUN --device=vendor.com/gpu true\n",
            build_contexts={"base": str(base)},
            policy=policy(FailingSetup()),
            runtime=NO_RUNTIME,
        )
    assert not isinstance(raised.value, ProcessError)
    assert str(raised.value) == "failed to create vendor.com/gpu device: no network"


def test_spec_errors_are_warnings_when_the_build_uses_devices(context: Path, base: Path) -> None:
    errors = {"/etc/cdi/bad.yaml": ["failed to load CDI Spec boom"]}
    shown = Progress()
    with pytest.raises(ProcessError):
        run_build(
            context,
            LABS + "FROM base\nRUN --device=vendor1.com/device true\n",
            build_contexts={"base": str(base)},
            policy=policy(FakePolicy(spec_errors=errors)),
            runtime=NO_RUNTIME,
            progress=shown,
        )
    assert shown.warnings == ["CDI setup error /etc/cdi/bad.yaml: failed to load CDI Spec boom"]

    quiet = Progress()
    with pytest.raises(ProcessError):
        run_build(
            context,
            "FROM base\nRUN true\n",
            build_contexts={"base": str(base)},
            policy=policy(FakePolicy(spec_errors=errors)),
            runtime=NO_RUNTIME,
            progress=quiet,
        )
    assert quiet.warnings == []


# --- stages, COPY, config -----------------------------------------------------------------------


@needs_root
def test_copy_forms(context: Path, base: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    dockerfile = (
        "FROM base\n"
        "WORKDIR /w\n"
        "COPY hello.txt .\n"  # into the workdir
        "COPY hello.txt /renamed.txt\n"
        "COPY dir /d\n"  # contents of the directory
        "COPY dir/*.txt hello.txt /many/\n"
        "COPY --chown=app:staff --chmod=600 hello.txt /owned\n"
        "COPY <<EOF /here.txt\nvalue=$V\nEOF\n"
        "ARG V=1\n"
        "COPY <<EOF /there.txt\nvalue=$V\nEOF\n"
    )
    run_build(
        context,
        dockerfile,
        build_contexts={"base": str(base)},
        outputs=[parse_output(f"type=local,dest={out}")],
    )
    assert (out / "w" / "hello.txt").read_text() == "hello\n"
    assert (out / "renamed.txt").read_text() == "hello\n"
    assert (out / "d" / "a.txt").exists() and (out / "d" / "sub" / "b.txt").exists()
    assert sorted(os.listdir(out / "many")) == ["a.txt", "hello.txt"]
    info = os.stat(out / "owned")
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (1000, 50, 0o600)
    assert (out / "here.txt").read_text() == "value=\n"
    assert (out / "there.txt").read_text() == "value=1\n"
    assert os.stat(out / "w" / "hello.txt").st_uid == 0


@needs_root
def test_dockerignore_hides_files(context: Path, base: Path, tmp_path: Path) -> None:
    (context / ".dockerignore").write_text("*.log\ndir/sub\n")
    out = tmp_path / "out"
    run_build(
        context,
        "FROM base\nCOPY . /ctx/\n",
        build_contexts={"base": str(base)},
        outputs=[parse_output(f"type=local,dest={out}")],
    )
    assert (out / "ctx" / "hello.txt").exists()
    assert not (out / "ctx" / "x.log").exists()
    assert not (out / "ctx" / "dir" / "sub").exists()
    with pytest.raises(StepError, match=r'"/x\.log": not found'):
        run_build(context, "FROM base\nCOPY x.log /\n", build_contexts={"base": str(base)})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("COPY ../outside /x", "forbidden path outside the build context: ../outside"),
        ("COPY missing /x", 'failed to compute cache key: "/missing": not found'),
        ("COPY nomatch* /x/", "no source files were specified"),
        (
            "COPY hello.txt dir /x",
            "When using COPY with more than one source file, the destination must be a "
            "directory and end with a /",
        ),
        ("ADD https://example.com/f /f", "ADD from a URL (https://example.com/f) is not supported"),
        ("COPY --chown=nobody hello.txt /x", "unable to find user nobody"),
        ("COPY --chmod=u+x hello.txt /x", "invalid chmod parameter"),
    ],
)
@needs_root
def test_copy_errors(context: Path, base: Path, line: str, message: str) -> None:
    with pytest.raises(StepError) as raised:
        run_build(context, f"FROM base\n{line}\n", build_contexts={"base": str(base)})
    assert message in str(raised.value)
    assert raised.value.line == 2


@needs_root
def test_link_in_context_does_not_leak_host_files(
    context: Path, base: Path, tmp_path: Path
) -> None:
    (context / "shadow").symlink_to("/etc/hostname")
    (context / "up").symlink_to("../../..")
    (context / "alias.txt").symlink_to("hello.txt")
    out = tmp_path / "out"
    run_build(
        context,
        "FROM base\nCOPY up/hello.txt /h\nCOPY . /c/\nCOPY alias.txt /links/\n",
        build_contexts={"base": str(base)},
        outputs=[parse_output(f"type=local,dest={out}")],
    )
    # 'up' resolves inside the context (its root), so up/hello.txt is the context's file.
    assert (out / "h").read_text() == "hello\n"
    assert os.readlink(out / "c" / "shadow") == "/etc/hostname"  # copied as a link
    # A named source that is a link is followed, and keeps its own name.
    assert (out / "links" / "alias.txt").read_text() == "hello\n"
    assert not (out / "links" / "alias.txt").is_symlink()


@needs_root
def test_add_extracts_local_archives(context: Path, base: Path, tmp_path: Path) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as archive:
        info = tarfile.TarInfo("pkg/readme")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    (context / "pkg.tar.gz").write_bytes(data.getvalue())
    out = tmp_path / "out"
    run_build(
        context,
        "FROM base\nADD pkg.tar.gz /opt/\nCOPY pkg.tar.gz /raw/\n",
        build_contexts={"base": str(base)},
        outputs=[parse_output(f"type=local,dest={out}")],
    )
    assert (out / "opt" / "pkg" / "readme").read_text() == "hi"
    assert (out / "raw" / "pkg.tar.gz").is_file()


@needs_root
def test_image_config_instructions(context: Path, base: Path) -> None:
    dockerfile = (
        "ARG TAG=1.0\n"
        "FROM base AS first\n"
        "ARG TAG\n"
        "ENV A=1 B=${TAG}\n"
        'ENV C="$A $B" A=2\n'  # one ENV sees the values from before it
        'LABEL version=$TAG "with space"=yes\n'
        "WORKDIR /app\n"
        "WORKDIR sub\n"
        "USER app\n"
        "EXPOSE 80 53/udp 8000-8001\n"
        'VOLUME ["/data"]\n'
        "STOPSIGNAL SIGINT\n"
        'CMD ["serve"]\n'
        "FROM first\n"
        'SHELL ["/bin/ash", "-c"]\n'
        "ENTRYPOINT run $A\n"
    )
    result, _ = run_build(context, dockerfile, build_contexts={"base": str(base)})
    config = result.config
    assert config.get_env("A") == "2" and config.get_env("B") == "1.0"
    assert config.get_env("C") == "1 1.0"
    assert config.get_env("PATH")
    assert config.labels == {"version": "1.0", "with space": "yes"}
    assert config.working_dir == "/app/sub"
    assert config.user == "app"
    assert set(config.exposed_ports) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert config.volumes == {"/data": {}} and config.stop_signal == "SIGINT"
    assert config.entrypoint == ["/bin/ash", "-c", "run $A"]
    assert config.cmd is None  # a new ENTRYPOINT drops the inherited CMD
    assert result.target == "stage-1"


@needs_root
def test_target_and_unknown_target(context: Path, base: Path) -> None:
    dockerfile = "FROM base AS a\nLABEL s=a\nFROM base AS b\nLABEL s=b\n"
    result, _ = run_build(context, dockerfile, build_contexts={"base": str(base)}, target="A")
    assert result.config.labels == {"s": "a"}
    with pytest.raises(BuildError, match='target stage "c" could not be found'):
        run_build(context, dockerfile, build_contexts={"base": str(base)}, target="c")


@needs_root
def test_from_global_arg_and_context_names(context: Path, base: Path) -> None:
    dockerfile = "ARG IMG=docker.io/library/busybox:latest\nFROM $IMG\nCOPY hello.txt /\n"
    result, shown = run_build(context, dockerfile, build_contexts={"busybox": str(base)})
    assert any(v.name == "[1/2] FROM docker.io/library/busybox:latest" for v in shown.vertices)
    assert result.config.get_env("PATH")


def test_missing_image_without_skopeo_is_clear(
    context: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BuildError) as raised:
        run_build(context, "FROM alpine:3\nCOPY hello.txt /\n")
    message = str(raised.value)
    assert message.startswith("failed to resolve source metadata for docker.io/library/alpine:3")
    assert "--build-context alpine:3=DIR" in message


def _layout(tmp_path: Path, env: list[str]) -> Path:
    tree = write_tree(tmp_path / "img-root", {"etc/os-release": "ID=test\n", "bin/tool": "#!"})
    config = ImageConfig.scratch()
    config.env = env
    config.cmd = ["tool"]
    layout = tmp_path / "layout"
    spec = parse_output(f"type=oci,dest={layout},tar=false,name=example.com/test:v1")
    write_oci(
        Root(tree),
        config,
        spec,
        created="2024-01-01T00:00:00Z",
        epoch=0,
        status=lambda _line: None,
        workdir=tmp_path,
    )
    return layout


@needs_root
def test_oci_layout_base(context: Path, tmp_path: Path) -> None:
    layout = _layout(tmp_path, ["PATH=/bin", "FOO=bar"])
    out = tmp_path / "out"
    result, _ = run_build(
        context,
        "FROM img\nCOPY hello.txt /\n",
        build_contexts={"img": f"oci-layout://{layout}:v1"},
        outputs=[parse_output(f"type=local,dest={out}")],
    )
    assert (out / "etc" / "os-release").read_text() == "ID=test\n"
    assert result.config.env == ["PATH=/bin", "FOO=bar"] and result.config.cmd == ["tool"]
    with pytest.raises(BuildError, match="no image tagged v2"):
        run_build(context, "FROM img\n", build_contexts={"img": f"oci-layout://{layout}:v2"})


@needs_root
def test_oci_layout_corrupt_blob_is_refused(context: Path, tmp_path: Path) -> None:
    layout = _layout(tmp_path, ["PATH=/bin"])
    index = json.loads((layout / "index.json").read_text())
    manifest_path = layout / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]
    manifest = json.loads(manifest_path.read_text())
    layer = layout / "blobs" / "sha256" / manifest["layers"][0]["digest"][7:]
    # A valid layer, but not the one the manifest names.
    replacement = io.BytesIO()
    with tarfile.open(fileobj=replacement, mode="w:gz") as archive:
        info = tarfile.TarInfo("planted")
        archive.addfile(info, io.BytesIO(b""))
    layer.write_bytes(replacement.getvalue())
    with pytest.raises(BuildError, match=r"layer blob .* does not match its digest"):
        run_build(context, "FROM img\n", build_contexts={"img": f"oci-layout://{layout}"})
    config_blob = layout / "blobs" / "sha256" / manifest["config"]["digest"][7:]
    config_blob.write_text(config_blob.read_text().replace("/bin", "/usr"))
    with pytest.raises(BuildError, match=r"config blob .* does not match its digest"):
        run_build(context, "FROM img\n", build_contexts={"img": f"oci-layout://{layout}"})


@needs_root
def test_docker_archive_base(context: Path, tmp_path: Path) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        info = tarfile.TarInfo("greeting")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"hey"))
    config = {"architecture": "amd64", "os": "linux", "config": {"Env": ["X=1"]}}
    files: dict[str, bytes] = {
        "manifest.json": json.dumps(
            [{"Config": "config.json", "RepoTags": ["t:1"], "Layers": ["l/layer.tar"]}]
        ).encode(),
        "config.json": json.dumps(config).encode(),
        "l/layer.tar": layer.getvalue(),
    }
    archive_path = tmp_path / "image.tar"
    with tarfile.open(archive_path, "w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    out = tmp_path / "out"
    result, _ = run_build(
        context,
        "FROM img\n",
        build_contexts={"img": f"docker-archive://{archive_path}"},
        outputs=[parse_output(f"type=local,dest={out}")],
    )
    assert (out / "greeting").read_text() == "hey"
    assert result.config.get_env("X") == "1" and result.config.get_env("PATH")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://github.com/x/y.git", "remote contexts"),
        ("target:foo", "bake targets"),
        ("s3://bucket", "unsupported source"),
        ("/nonexistent/dir", "is not a directory"),
    ],
)
def test_bad_named_contexts(context: Path, value: str, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        run_build(context, "FROM scratch\n", build_contexts={"x": value})


def test_from_platform_other_than_host_is_refused(context: Path) -> None:
    with pytest.raises(BuildError, match="FROM --platform=linux/s390x is not supported"):
        run_build(context, "FROM --platform=linux/s390x scratch\n")


def test_expansion_errors_point_at_their_line(context: Path) -> None:
    with pytest.raises(BuildError) as raised:
        run_build(context, "FROM scratch\nENV A=${B:?unset}\n")
    assert str(raised.value) == "B: unset" and raised.value.line == 2


@needs_root
def test_progress_names_steps_like_buildkit(context: Path, base: Path) -> None:
    dockerfile = "FROM base AS b\nWORKDIR /x\nCOPY hello.txt .\nFROM b\nCOPY --from=b /x /y\n"
    _, shown = run_build(context, dockerfile, build_contexts={"base": str(base)})
    names = [v.name for v in shown.vertices]
    assert names == [
        "[internal] load build definition from Dockerfile",
        "[internal] load .dockerignore",
        "[b 1/3] FROM base",
        "[b 2/3] WORKDIR /x",
        "[b 3/3] COPY hello.txt .",
        "[stage-1 1/2] FROM b",
        "[stage-1 2/2] COPY --from=b /x /y",
    ]
    assert all(v.error is None and v.finished is not None for v in shown.vertices)


def _fake_skopeo(directory: Path, script: str) -> None:
    directory.mkdir()
    skopeo = directory / "skopeo"
    skopeo.write_text("#!/bin/sh\n" + script)
    skopeo.chmod(0o755)


@needs_root
def test_images_are_pulled_with_skopeo(
    context: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = _layout(tmp_path, ["PATH=/bin", "PULLED=yes"])
    index = layout / "index.json"
    index.write_text(index.read_text().replace('"v1"', '"pulled"'))
    log = tmp_path / "skopeo.log"
    # The last argument is oci:DIR:pulled; a real skopeo would fetch the image there.
    _fake_skopeo(
        tmp_path / "bin",
        f'echo "$@" > {log}\nfor last; do :; done\ndir=${{last#oci:}}\n'
        f'cp -r {layout} "${{dir%:pulled}}"\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    result, shown = run_build(context, "FROM example.com/app:1\nCOPY hello.txt /\n")
    assert result.config.get_env("PULLED") == "yes"
    assert "docker://example.com/app:1 oci:" in log.read_text()
    assert "--override-os linux" in log.read_text()
    assert "[internal] load metadata for example.com/app:1" in [v.name for v in shown.vertices]


def test_skopeo_failure_is_reported(
    context: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_skopeo(
        tmp_path / "bin",
        'echo \'time="2024" level=fatal msg="manifest unknown: \\"x\\""\' >&2\nexit 1\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    with pytest.raises(BuildError) as raised:
        run_build(context, "FROM example.com/app:1\n")
    assert str(raised.value) == (
        'failed to resolve source metadata for example.com/app:1: manifest unknown: "x"'
    )
