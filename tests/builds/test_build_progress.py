"""Progress displays: BuildKit's plain format, the live view, the error excerpt."""

from __future__ import annotations

import io

import pytest

from cdi.build.progress import (
    PlainProgress,
    Progress,
    TtyProgress,
    format_failure,
    format_source_excerpt,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_format() -> None:
    clock = Clock()
    out = io.StringIO()
    progress = PlainProgress(out, clock=clock)
    with progress.vertex("[internal] load build definition from Dockerfile") as vertex:
        vertex.status("transferring dockerfile: 96B done")
    step = progress.vertex("[2/2] RUN env | grep ^FOO=")
    clock.now += 0.24
    step.log("FOO=inj")
    step.log_bytes(b"ected\npartial")
    clock.now += 0.06
    step.done()
    failed = progress.vertex("[3/3] RUN exit 3")
    failed.fail('process "/bin/sh -c exit 3" did not complete successfully: exit code: 3')
    assert out.getvalue() == (
        "#1 [internal] load build definition from Dockerfile\n"
        "#1 transferring dockerfile: 96B done\n"
        "#1 DONE 0.0s\n"
        "\n"
        "#2 [2/2] RUN env | grep ^FOO=\n"
        "#2 0.240 FOO=injected\n"
        "#2 0.300 partial\n"
        "#2 DONE 0.3s\n"
        "\n"
        "#3 [3/3] RUN exit 3\n"
        '#3 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n'
        "\n"
    )
    assert progress.failed is failed


def test_interleaved_output_repeats_the_header() -> None:
    out = io.StringIO()
    progress = PlainProgress(out, clock=Clock())
    first = progress.vertex("one")
    second = progress.vertex("two")
    first.log("a\n")
    second.log("b\n")
    assert out.getvalue().splitlines() == [
        "#1 one",
        "#2 two",
        "#1 one",
        "#1 0.000 a",
        "#2 two",
        "#2 0.000 b",
    ]


def test_vertex_context_manager_records_failure() -> None:
    progress = Progress()
    with pytest.raises(ValueError), progress.vertex("x"):
        raise ValueError("boom")
    assert progress.vertices[0].error == "boom" and progress.failed is progress.vertices[0]


def test_failure_block_and_excerpt() -> None:
    progress = Progress(clock=Clock())
    vertex = progress.vertex("[2/2] RUN echo oops >&2; exit 3")
    vertex.log("oops\n")
    vertex.fail("exit code: 3")
    assert (
        format_failure(vertex)
        == "------\n > [2/2] RUN echo oops >&2; exit 3:\n0.000 oops\n------\n"
    )
    lines = ["FROM busybox", "RUN a", "RUN b", "RUN c", "RUN d", "RUN e", "RUN f", "RUN g"]
    assert format_source_excerpt("Dockerfile", lines, 2) == (
        "Dockerfile:2\n"
        "--------------------\n"
        "   1 |     FROM busybox\n"
        "   2 | >>> RUN a\n"
        "   3 |     RUN b\n"
        "   4 |     RUN c\n"
        "   5 |     RUN d\n"
        "--------------------\n"
    )
    assert format_source_excerpt("Dockerfile", lines, 4, 5).splitlines()[2:6] == [
        "   3 |     RUN b",
        "   4 | >>> RUN c",
        "   5 | >>> RUN d",
        "   6 |     RUN e",
    ]
    assert format_source_excerpt("Dockerfile", lines, 99) == ""


def test_tty_view_renders_running_step_output() -> None:
    clock = Clock()
    out = io.StringIO()
    progress = TtyProgress(out, clock=clock, interval=3600, width=60)
    done = progress.vertex("[1/2] FROM busybox")
    done.done()
    running = progress.vertex("[2/2] RUN make")
    for number in range(8):
        running.log(f"line {number}\n")
    clock.now += 1.5
    view = progress.render()
    assert view[0] == "[+] Building 1.5s (1/2)"
    assert view[1].startswith(" => [1/2] FROM busybox") and view[1].endswith("0.0s")
    assert len(view[1]) == 60
    assert view[2].startswith(" => [2/2] RUN make") and view[2].endswith("1.5s")
    assert view[3:] == [f" => => # line {n}" for n in range(2, 8)]
    running.done()
    progress.close()
    final = out.getvalue()
    assert "\x1b[" in final  # redrawn in place
    assert final.rstrip().splitlines()[-3].endswith("(2/2) FINISHED")


def test_split_utf8_and_long_logs() -> None:
    progress = Progress(clock=Clock())
    split = progress.vertex("split")
    data = "é\nü".encode()
    split.log_bytes(data[:1])
    split.log_bytes(data[1:])
    split.done()  # the unterminated last line is kept too
    assert split.logs == [(0.0, "é"), (0.0, "ü")]
    long = progress.vertex("long")
    for number in range(1000):
        long.log(f"{number}\n")
    long.done()
    assert len(long.logs) <= 200
    assert long.tail(2) == [(0.0, "998"), (0.0, "999")]
