"""Both modes of ``cdi kubelet-plugin`` read the global ``cdi --spec-dir`` when not given
their own ``--spec-dir`` (as every other command does), and their own wins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cdi.cli.kubelet_dra
from cdi.cli.main import main
from cdi.errors import CDIError
from cdi.kubelet.deviceplugin import DevicePlugin

CASES = [
    pytest.param(["--spec-dir", "/global"], [], ["/global"], id="global"),
    pytest.param(["--spec-dir", "/global"], ["--spec-dir", "/own"], ["/own"], id="own-wins"),
    pytest.param([], [], None, id="neither: the defaults"),
]


@pytest.mark.parametrize(("before", "after", "expected"), CASES)
def test_device_plugin(
    before: list[str],
    after: list[str],
    expected: list[str] | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(DevicePlugin, "serve", lambda self, stop: seen.append(self.config))
    args = [*before, "kubelet-plugin", "device-plugin", "--kind", "example.com/dev"]
    args += ["--resource-name", "example.com/dev", "--device-plugin-dir", str(tmp_path), *after]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    dirs = seen[0].spec_dirs
    assert (list(dirs) if dirs else None) == expected


@pytest.mark.parametrize(("before", "after", "expected"), CASES)
def test_dra(
    before: list[str],
    after: list[str],
    expected: list[str] | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []

    def agent(**arguments: Any) -> Any:
        seen.append(arguments["spec_dirs"])
        raise CDIError("stopped by the test")

    monkeypatch.setattr(cdi.cli.kubelet_dra, "_agent", agent)
    claims = tmp_path / "claims.yaml"
    claims.write_text("[]\n")
    args = [*before, "kubelet-plugin", "dra", "--driver-name", "dev.example.com"]
    args += ["--kind", "example.com/dev", "--no-publish-slices", "--claims-file", str(claims)]
    result = CliRunner().invoke(main, [*args, *after])
    assert "stopped by the test" in result.output
    assert (list(seen[0]) if seen[0] else None) == expected
