"""``cdi specs``: spec files by vendor, the vendor filter, -v, and the files with errors."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import Invoke, spec, write

BROKEN = (
    "cdiVersion: 0.3.0\nkind: vendor3.com/device\ndevices:\n"
    "  - name: x\n    containerEdits: {env: ['=x']}\n"
)
BROKEN_ERROR = (
    'failed to load CDI Spec invalid CDI Spec: failed add device "x": invalid device "x": '
    'invalid container edits: invalid environment variable "=x"'
)


def _dir(tmp_path: Path) -> Path:
    write(tmp_path, "a.yaml", spec("vendor2.com/gpu", "a"))
    write(tmp_path, "b.yaml", spec("vendor1.com/device", "foo"))
    write(tmp_path, "c.yaml", spec("vendor2.com/net", "c"))
    return tmp_path


def test_specs_grouped_by_vendor(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(_dir(tmp_path)), "specs")
    assert result.exit_code == 0
    assert result.stdout == (
        "CDI Specs found:\n"
        "Vendor vendor1.com:\n"
        f"  Spec File {tmp_path}/b.yaml\n"
        "Vendor vendor2.com:\n"
        f"  Spec File {tmp_path}/a.yaml\n"
        f"  Spec File {tmp_path}/c.yaml\n"
    )


def test_vendor_filter(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(_dir(tmp_path)), "specs", "vendor2.com")
    assert result.stdout == (
        "CDI Specs found:\n"
        "Vendor vendor2.com:\n"
        f"  Spec File {tmp_path}/a.yaml\n"
        f"  Spec File {tmp_path}/c.yaml\n"
    )


def test_vendor_filter_with_unknown_vendor(cdi: Invoke, tmp_path: Path) -> None:
    result = cdi("--spec-dir", str(_dir(tmp_path)), "specs", "nvidia.com")
    assert result.exit_code == 0
    assert result.stdout == "No CDI Specs found.\n"


def test_verbose_dumps_the_spec(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor1.com/device", "foo"))
    result = cdi("--spec-dir", str(tmp_path), "specs", "-v")
    assert result.stdout == (
        "CDI Specs found:\n"
        "Vendor vendor1.com:\n"
        f"  Spec File {tmp_path}/a.yaml\n"
        "    cdiVersion: 0.3.0\n"
        "    kind: vendor1.com/device\n"
        "    devices:\n"
        "        - name: foo\n"
        "          containerEdits:\n"
        "            env:\n"
        "                - FOO=1\n"
    )


def test_files_with_errors_follow_with_positions(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor1.com/device", "foo"))
    write(tmp_path, "z.yaml", BROKEN)
    result = cdi("--spec-dir", str(tmp_path), "specs")
    assert result.exit_code == 0
    assert result.stdout == (
        "CDI Specs found:\n"
        "Vendor vendor1.com:\n"
        f"  Spec File {tmp_path}/a.yaml\n"
        f"  {tmp_path}/z.yaml has 1 errors:\n"
        f"    0. {tmp_path}/z.yaml:5:28: {BROKEN_ERROR}\n"
    )


def test_only_errors(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "z.yaml", BROKEN)
    result = cdi("--spec-dir", str(tmp_path), "specs")
    assert result.stdout == (
        "No CDI Specs found.\n"
        f"  {tmp_path}/z.yaml has 1 errors:\n"
        f"    0. {tmp_path}/z.yaml:5:28: {BROKEN_ERROR}\n"
    )


def test_conflicts_are_errors_of_both_files(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor1.com/device", "foo"))
    write(tmp_path, "b.yaml", spec("vendor1.com/device", "foo"))
    result = cdi("--spec-dir", str(tmp_path), "specs")
    conflict = (
        f'conflicting device "vendor1.com/device=foo" '
        f'(specs "{tmp_path}/b.yaml", "{tmp_path}/a.yaml")'
    )
    assert result.stdout.splitlines()[-4:] == [
        f"  {tmp_path}/b.yaml has 1 errors:",
        f"    0. {conflict}",
        f"  {tmp_path}/a.yaml has 1 errors:",
        f"    0. {conflict}",
    ]


def test_specs_json(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor1.com/device", "foo", "bar"))
    write(tmp_path, "z.yaml", BROKEN)
    result = cdi("--spec-dir", str(tmp_path), "specs", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "specs": [
            {
                "path": f"{tmp_path}/a.yaml",
                "priority": 0,
                "kind": "vendor1.com/device",
                "vendor": "vendor1.com",
                "class": "device",
                "cdiVersion": "0.3.0",
                "devices": ["vendor1.com/device=foo", "vendor1.com/device=bar"],
            }
        ],
        "errors": [
            {
                "path": f"{tmp_path}/z.yaml",
                "line": 5,
                "column": 28,
                "message": BROKEN_ERROR,
                "hint": None,
            }
        ],
    }


def test_specs_json_verbose_has_the_spec(cdi: Invoke, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", spec("vendor1.com/device", "foo"))
    result = cdi("--spec-dir", str(tmp_path), "specs", "-v", "-o", "json")
    (entry,) = json.loads(result.stdout)["specs"]
    assert entry["spec"] == {
        "cdiVersion": "0.3.0",
        "kind": "vendor1.com/device",
        "devices": [{"name": "foo", "containerEdits": {"env": ["FOO=1"]}}],
        "containerEdits": {},
    }


NESTED = """\
cdiVersion: 0.5.0
kind: vendor.com/gpu
devices:
  - name: "0"
    containerEdits:
      deviceNodes:
        - {path: /dev/gpu0, fileMode: 0660, major: 195}
      hooks:
        - hookName: createContainer
          path: /usr/bin/hook
          args: [hook, "--opt=yes", "y", "multi\\nline"]
"""


def test_verbose_yaml_is_laid_out_as_yaml_v3(cdi: Invoke, tmp_path: Path) -> None:
    # Four spaces a level, sequences indented under their key, an item's content just past
    # "- " and deeper levels at the next multiple of four; ambiguous strings double-quoted.
    write(tmp_path, "a.yaml", NESTED)
    result = cdi("--spec-dir", str(tmp_path), "specs", "-v")
    assert result.stdout.splitlines()[3:] == [
        "    cdiVersion: 0.5.0",
        "    kind: vendor.com/gpu",
        "    devices:",
        '        - name: "0"',
        "          containerEdits:",
        "            deviceNodes:",
        "                - path: /dev/gpu0",
        "                  major: 195",
        "                  fileMode: 432",
        "            hooks:",
        "                - hookName: createContainer",
        "                  path: /usr/bin/hook",
        "                  args:",
        "                    - hook",
        "                    - --opt=yes",
        '                    - "y"',
        "                    - |-",
        "                      multi",
        "                      line",
    ]
