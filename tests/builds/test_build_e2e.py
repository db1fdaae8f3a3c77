"""Real builds: RUN steps in containers under runc on a busybox root filesystem."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any, cast

import pytest
from buildtools import FakePolicy, run_build, write_tree
from click.testing import CliRunner
from ocicheck import read_oci_archive

from cdi.build import BuildError, PlainProgress, StepError, parse_output
from cdi.cli.build import build as build_command
from cdi.policy import DevicePolicy, DeviceRequest

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("require_runtime")]

LABS = "# syntax=docker/dockerfile:1-labs\n"
REFUSED = (
    "ERROR: failed to build: failed to solve: failed to load LLB: device vendor1.com/device=foo "
    "is requested by the build but not allowed\n"
)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "ctx", {"hello.txt": "hello from the context\n"})


def busybox(rootfs: Path) -> dict[str, str]:
    return {"busybox": str(rootfs)}


def test_two_stages_with_copy_from(context: Path, busybox_rootfs: Path, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox AS build\n"
        "ENV GREETING=hello\n"
        "WORKDIR /src\n"
        'RUN echo "$GREETING from $(pwd)" > made.txt\n'
        "COPY hello.txt .\n"
        "RUN cat hello.txt >> made.txt\n"
        "FROM busybox\n"
        "COPY --from=build /src/made.txt /result/\n"
        "RUN wc -l < /result/made.txt > /result/lines\n"
        'CMD ["cat", "/result/made.txt"]\n'
    )
    out = tmp_path / "out"
    image = tmp_path / "image.tar"
    result, shown = run_build(
        context,
        dockerfile,
        build_contexts=busybox(busybox_rootfs),
        outputs=[parse_output(f"type=local,dest={out}"), parse_output(f"type=oci,dest={image}")],
    )
    assert (out / "result" / "made.txt").read_text() == (
        "hello from /src\nhello from the context\n"
    )
    assert (out / "result" / "lines").read_text().strip() == "2"
    assert not (out / "src").exists()  # the first stage's files stay in the first stage
    oci = read_oci_archive(image)
    assert oci["texts"]["result/made.txt"].startswith(b"hello from /src")
    assert oci["config"]["config"]["Cmd"] == ["cat", "/result/made.txt"]
    assert result.config.cmd == ["cat", "/result/made.txt"]
    assert [v.name for v in shown.vertices if "RUN" in v.name] == [
        '[build 3/5] RUN echo "$GREETING from $(pwd)" > made.txt',
        "[build 5/5] RUN cat hello.txt >> made.txt",
        "[stage-1 3/3] RUN wc -l < /result/made.txt > /result/lines",
    ]


def test_env_workdir_user_and_args(context: Path, busybox_rootfs: Path) -> None:
    dockerfile = (
        "FROM busybox\n"
        "ARG BUILT_BY\n"
        "ARG UNSET\n"
        "ENV A=1\n"
        "WORKDIR /work/dir\n"
        "USER nobody\n"
        'RUN echo "a=$A by=$BUILT_BY unset=${UNSET-none}" \\\n'
        '  "cwd=$(pwd) uid=$(id -u) host=$(hostname)"\n'
        "USER root:nogroup\n"
        "RUN id; echo proxy=$http_proxy\n"
    )
    out = io.StringIO()
    run_build(
        context,
        dockerfile,
        build_contexts=busybox(busybox_rootfs),
        build_args={"BUILT_BY": "tests", "http_proxy": "http://proxy:3128"},
        progress=PlainProgress(out),
    )
    text = out.getvalue()
    assert "a=1 by=tests unset=none cwd=/work/dir uid=65534 host=buildkitsandbox" in text
    assert "uid=0(root) gid=65534(nogroup)" in text
    assert "proxy=http://proxy:3128" in text  # predefined: no ARG needed


def test_failing_step_reports_buildkit_message(context: Path, busybox_rootfs: Path) -> None:
    out = io.StringIO()
    with pytest.raises(StepError) as raised:
        run_build(
            context,
            "FROM busybox\nRUN echo before\nRUN exit 3\nRUN echo never-runs\n",
            build_contexts=busybox(busybox_rootfs),
            progress=PlainProgress(out),
        )
    assert str(raised.value) == (
        'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    )
    assert raised.value.line == 3
    assert "RUN echo never-runs" not in out.getvalue()
    assert "#5 ERROR: process" in out.getvalue()


def test_exec_form_shell_and_heredocs(context: Path, busybox_rootfs: Path) -> None:
    dockerfile = (
        "FROM busybox\n"
        'RUN ["echo", "exec form", "$HOME"]\n'
        'SHELL ["/bin/sh", "-ec"]\n'
        "RUN <<EOF\n"
        "echo heredoc script\n"
        "echo second line\n"
        "EOF\n"
        "RUN <<EOF\n"
        "#!/bin/sh\n"
        'echo "shebang script as $0"\n'
        "EOF\n"
        "RUN cat <<EOT > /greeting && cat /greeting\n"
        "from a heredoc\n"
        "EOT\n"
    )
    out = io.StringIO()
    run_build(
        context, dockerfile, build_contexts=busybox(busybox_rootfs), progress=PlainProgress(out)
    )
    text = out.getvalue()
    assert "exec form $HOME" in text  # exec form: no shell, no expansion
    assert "heredoc script" in text and "second line" in text
    assert "shebang script as /dev/pipes/EOF" in text
    assert "from a heredoc" in text


def test_missing_user_fails_the_step(context: Path, busybox_rootfs: Path) -> None:
    with pytest.raises(StepError, match="unable to find user ghost"):
        run_build(
            context, "FROM busybox\nUSER ghost\nRUN true\n", build_contexts=busybox(busybox_rootfs)
        )


def test_device_steps_get_injected_edits(context: Path, busybox_rootfs: Path) -> None:
    fake = FakePolicy()
    out = io.StringIO()
    run_build(
        context,
        LABS + "FROM busybox\nRUN true\nRUN --device=vendor1.com/device=foo env | grep _DEVICE=\n",
        build_contexts=busybox(busybox_rootfs),
        policy=cast(DevicePolicy, fake),
        progress=PlainProgress(out),
    )
    assert fake.prepared == fake.injected == [[DeviceRequest("vendor1.com/device=foo")]]
    text = out.getvalue()
    assert "FOO_DEVICE=injected" in text
    assert "preparing device vendor1.com/device" in text


def test_injection_failure(context: Path, busybox_rootfs: Path) -> None:
    fake = FakePolicy(inject_error='required device "x" is not registered')
    with pytest.raises(BuildError) as raised:
        run_build(
            context,
            LABS + "FROM busybox\nRUN --device=x true\n",
            build_contexts=busybox(busybox_rootfs),
            policy=cast(DevicePolicy, fake),
        )
    assert str(raised.value) == (
        'process "/bin/sh -c true" did not complete successfully: '
        'CDI device injection failed: required device "x" is not registered'
    )


class MountingPolicy(FakePolicy):
    """Injects a file bind mount at a path the root filesystem lacks (as a driver library)."""

    def __init__(self, library: Path) -> None:
        super().__init__()
        self.library = library

    def inject(self, oci_spec: Any, requests: Any) -> dict[str, Any]:
        spec = super().inject(oci_spec, requests)
        spec["mounts"].append(
            {
                "destination": "/opt/vendor/lib/libvendor.so",
                "type": "bind",
                "source": str(self.library),
                "options": ["rbind", "ro"],
            }
        )
        return spec


def test_mount_points_created_for_devices_are_removed(
    context: Path, busybox_rootfs: Path, tmp_path: Path
) -> None:
    library = tmp_path / "libvendor.so"
    library.write_text("vendor library\n")
    out = tmp_path / "out"
    log = io.StringIO()
    run_build(
        context,
        LABS + "FROM busybox\nRUN --device=vendor.com/gpu cat /opt/vendor/lib/libvendor.so\n",
        build_contexts=busybox(busybox_rootfs),
        policy=cast(DevicePolicy, MountingPolicy(library)),
        outputs=[parse_output(f"type=local,dest={out}")],
        progress=PlainProgress(log),
    )
    assert "vendor library" in log.getvalue()
    assert not (out / "opt").exists()


def _spec_dir(tmp_path: Path, autoallow: bool) -> Path:
    annotations = (
        "annotations:\n  org.mobyproject.buildkit.device.autoallow: true\n" if autoallow else ""
    )
    return write_tree(
        tmp_path / f"cdi-{autoallow}",
        {
            "vendor1.yaml": 'cdiVersion: "0.6.0"\nkind: vendor1.com/device\n'
            + annotations
            + "devices:\n- name: foo\n  containerEdits:\n    env:\n    - FOO=injected\n"
        },
    )


def test_cli_tutorial(busybox_rootfs: Path, tmp_path: Path) -> None:
    """The tutorial: refused without --allow, injected with it, or with the annotation."""
    context = write_tree(
        tmp_path / "tutorial",
        {"Dockerfile": LABS + "FROM busybox\nRUN --device=vendor1.com/device env | grep ^FOO=\n"},
    )
    marker = tmp_path / "ran"
    common = ["--build-context", f"busybox={busybox_rootfs}", "--progress", "plain"]
    runner = CliRunner()

    refused = runner.invoke(
        build_command, ["--spec-dir", str(_spec_dir(tmp_path, False)), *common, str(context)]
    )
    assert refused.exit_code == 1
    assert refused.stderr.endswith(REFUSED)
    assert "[1/2] FROM" not in refused.stderr and not marker.exists()

    allowed = runner.invoke(
        build_command,
        ["--spec-dir", str(_spec_dir(tmp_path, False)), "--allow", "device", *common, str(context)],
    )
    assert allowed.exit_code == 0, allowed.stderr
    assert "FOO=injected" in allowed.stderr
    assert "#4 [2/2] RUN --device=vendor1.com/device env | grep ^FOO=" in allowed.stderr

    auto = runner.invoke(
        build_command, ["--spec-dir", str(_spec_dir(tmp_path, True)), *common, str(context)]
    )
    assert auto.exit_code == 0, auto.stderr
    assert "FOO=injected" in auto.stderr


def test_cli_failure_output_and_usage_errors(busybox_rootfs: Path, tmp_path: Path) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
    runner = CliRunner()
    failed = runner.invoke(
        build_command,
        ["--build-context", f"busybox={busybox_rootfs}", "--progress", "plain", str(context)],
    )
    assert failed.exit_code == 1
    assert failed.stderr.endswith(
        "Dockerfile:2\n"
        "--------------------\n"
        "   1 |     FROM busybox\n"
        "   2 | >>> RUN exit 3\n"
        "--------------------\n"
        'ERROR: failed to build: failed to solve: process "/bin/sh -c exit 3" did not complete '
        "successfully: exit code: 3\n"
    )
    assert " > [2/2] RUN exit 3:\n" in failed.stderr
    for bad in (["--allow", "bogus"], ["--output", "type=zip,dest=x"], ["--build-arg", "=x"]):
        usage = runner.invoke(build_command, [*bad, str(context)])
        assert usage.exit_code == 2, bad


def test_cli_output_to_stdout(busybox_rootfs: Path, tmp_path: Path) -> None:
    context = write_tree(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo made > /made\n"})
    result = CliRunner().invoke(
        build_command,
        [
            "--build-context",
            f"busybox={busybox_rootfs}",
            "--progress",
            "quiet",
            "-o",
            "-",
            str(context),
        ],
    )
    assert result.exit_code == 0, result.stderr
    with tarfile.open(fileobj=io.BytesIO(result.stdout_bytes)) as archive:
        made = archive.extractfile("made")
        assert made is not None and made.read() == b"made\n"
