"""Running ``cdi-runtime`` as engines do, against a recording stand-in for runc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SHIM = os.path.join(os.path.dirname(sys.executable), "cdi-runtime")

#: A stand-in runtime: records its argv, environment and directory into RECORD, exits with
#: $FAKE_STATUS. Absolute commands: it may run with no PATH, as runtimes do under podman.
FAKE_RUNTIME = """#!/bin/sh
/bin/mkdir -p RECORD
printf '%s\\n' "$0" "$@" > RECORD/argv
/usr/bin/env -0 > RECORD/env
pwd > RECORD/cwd
/bin/grep '^Sig' /proc/$$/status > RECORD/signals
exit "${FAKE_STATUS:-0}"
"""

SPEC: dict[str, Any] = {
    "cdiVersion": "0.6.0",
    "kind": "vendor1.com/device",
    "devices": [
        {
            "name": "foo",
            "containerEdits": {
                "env": ["FOO=injected"],
                "deviceNodes": [{"path": "/dev/null"}],
                "mounts": [{"hostPath": "/etc/hostname", "containerPath": "/mnt/marker",
                            "options": ["ro", "bind"]}],
                "hooks": [{"hookName": "createRuntime", "path": "/bin/true",
                           "args": ["true", "foo"]}],
            },
        },
        {"name": "bar2", "containerEdits": {"env": ["BAR=2"]}},
    ],
}  # fmt: skip

CONFIG_JSON: dict[str, Any] = {
    "ociVersion": "1.0.2",
    "process": {"args": ["env"], "env": ["PATH=/bin"], "cwd": "/"},
    "root": {"path": "rootfs"},
    "annotations": {"cdi.k8s.io/test": "vendor1.com/device=foo"},
    "org.example.future-field": {"kept": [1, 2.5, None, True]},
}


class ShimWorld:
    """A spec dir, a bundle, a config file and a fake runtime, all under one temp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spec_dir = root / "cdi"
        self.spec_dir.mkdir()
        (self.spec_dir / "vendor1.json").write_text(json.dumps(SPEC))
        self.bundle = root / "bundle"
        self.bundle.mkdir()
        self.config_json = self.bundle / "config.json"
        self.write_config_json(CONFIG_JSON)
        self.bin = root / "bin"
        self.bin.mkdir()
        self.fake = self.bin / "fake-runc"
        self.record = self.bin / "record"
        self.fake.write_text(FAKE_RUNTIME.replace("RECORD", str(self.record)))
        self.fake.chmod(0o755)
        self.config = root / "runtime.toml"
        self.write_config(f'runtimes = ["{self.fake}"]\n')

    def write_config(self, text: str) -> None:
        self.config.write_text(text)

    def write_config_json(self, spec: dict[str, Any]) -> None:
        self.config_json.write_text(json.dumps(spec, indent=2))

    def environment(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "CDI_SPEC_DIRS": str(self.spec_dir),
            "CDI_RUNTIME_CONFIG": str(self.config),
            "CDI_INDEX_DIR": str(self.root / "index"),
        }
        env.update(extra)
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SHIM, *args],
            env=self.environment() if env is None else env,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def recorded_argv(self) -> list[str]:
        return (self.record / "argv").read_text().splitlines()

    def recorded_env(self) -> dict[str, str]:
        entries = (self.record / "env").read_bytes().decode().split("\0")
        return dict(entry.split("=", 1) for entry in entries if entry)

    def recorded_ignored_signals(self) -> int:
        """The runtime's mask of ignored signals (``SigIgn`` of /proc/PID/status)."""
        for line in (self.record / "signals").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return int(line.split()[1], 16)
        raise AssertionError("no SigIgn line")

    def spec(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.config_json.read_text())
        return loaded
