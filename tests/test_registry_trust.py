"""The trust policy for spec files: the table in tests/vectors/registry/trust.yaml (keys
documented there), and what a table cannot say: the persistent index, the watcher, logging,
and the start path."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import cdi
from cdi.errors import TrustError
from cdi.registry.index import INDEX_DIR_ENV
from cdi.registry.scan import RACY_WINDOW_NS
from cdi.registry.trust import TRUST_MODES, check_spec_file, untrusted_reasons
from registry_scenario import substitute
from tables import load_table

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="files of other uids need root (chown)")

SPEC = (
    "cdiVersion: 0.3.0\nkind: vendor.com/device\n"
    "devices: [{{name: {0}, containerEdits: {{env: [{1}=1]}}}}]\n"
)
KIND = "vendor.com/device="


def _spec(device: str) -> str:
    return SPEC.format(device, device.upper())


# -- the table ------------------------------------------------------------------------------


class TrustCase:
    """One case of trust.yaml on disk under *root*, and registries on it."""

    def __init__(self, case: dict[str, Any], root: Path) -> None:
        self.case = case
        self.root = root
        self.text_root = str(root)
        self.dirs = [self.abs(d) for d in case.get("dirs", ["cdi"])]
        links = case.get("links", {})
        for relative in [*case.get("dirs", ["cdi"]), *case.get("mkdir", [])]:
            if relative not in links:
                self.mkdir(relative)
        for relative, target in links.items():
            path = Path(self.abs(relative))
            if not path.parent.exists():
                self.mkdir(str(path.parent.relative_to(root)))
            path.symlink_to(substitute(target, self.text_root))
        self.write(case)
        self.apply(case)

    def abs(self, relative: str) -> str:
        return os.path.join(self.text_root, relative)

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.text_root)

    def mkdir(self, relative: str) -> None:
        path = Path(self.abs(relative))
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)  # whatever the umask

    def write(self, step: dict[str, Any]) -> None:
        contents = {path: _spec(device) for path, device in step.get("specs", {}).items()}
        contents.update(step.get("files", {}))
        for relative, text in contents.items():
            path = Path(self.abs(relative))
            existed = path.exists()
            path.write_text(text, encoding="utf-8")
            if not existed:
                path.chmod(0o644)

    def apply(self, step: dict[str, Any]) -> None:
        for relative, uid in step.get("chown", {}).items():
            os.chown(self.abs(relative), uid, -1)
        for relative, mode in step.get("chmod", {}).items():
            os.chmod(self.abs(relative), int(mode, 8))
        for relative in step.get("remove", []):
            os.unlink(self.abs(relative))

    def open(self, mode: str, changes: list[int]) -> cdi.Registry:
        return cdi.Registry(
            self.dirs, trust=mode, index=False, on_change=lambda _: changes.append(1)
        )

    def observe(self, registry: cdi.Registry) -> dict[str, Any]:
        return {
            "devices": {
                name.removeprefix(KIND): self.rel(found.spec.path)
                for name in registry.list_devices()
                if (found := registry.get_device(name)) is not None
            },
            "errors": {
                self.rel(path): [str(e) for e in errors]
                for path, errors in registry.errors().items()
            },
            "warnings": {
                self.rel(path): [str(w) for w in warnings]
                for path, warnings in registry.trust_warnings().items()
            },
        }

    def expected(self, want: dict[str, Any]) -> dict[str, Any]:
        want = substitute(want, self.text_root)
        return {
            "devices": want["devices"],
            "errors": want.get("errors", {}),
            "warnings": want.get("warnings", {}),
        }

    def check_the_pure_function(self, registry: cdi.Registry) -> None:
        """check_spec_file says of each spec file what the strict registry said."""
        errors = registry.errors()
        for directory in self.dirs:
            for name in sorted(os.listdir(directory)):
                path = os.path.join(directory, name)
                if not name.endswith((".json", ".yaml")) or not os.path.exists(path):
                    continue
                refusals = [e for e in errors.get(path, []) if isinstance(e, TrustError)]
                want = list(refusals[0].reasons) if refusals else []
                assert check_spec_file(path, directory) == want, path


def _trust_params() -> list[Any]:
    params = []
    for case in load_table("registry/trust.yaml"):
        modes = ["-"] if "error" in case else list(TRUST_MODES)
        needs = (
            "chown" in case or "euid" in case or any("chown" in s for s in case.get("steps", []))
        )
        marks = [needs_root] if needs else []
        for mode in modes:
            params.append(pytest.param(case, mode, id=f"{case['name']} [{mode}]", marks=marks))
    return params


@pytest.mark.parametrize(("case", "mode"), _trust_params())
def test_trust_vector(
    case: dict[str, Any], mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDI_SPEC_DIRS", raising=False)
    if "error" in case:
        with pytest.raises(cdi.TrustModeError) as raised:
            cdi.Registry([str(tmp_path)], trust=case["trust"], index=False)
        assert str(raised.value) == case["error"]
        assert isinstance(raised.value, ValueError)
        return
    scenario = TrustCase(case, tmp_path.resolve())
    if "euid" in case:
        monkeypatch.setattr(os, "geteuid", lambda: case["euid"])
    changes: list[int] = []
    registry = scenario.open(mode, changes)
    assert registry.trust == mode
    assert scenario.observe(registry) == scenario.expected(case["expect"][mode])
    if mode == "strict":
        scenario.check_the_pure_function(registry)
    for number, step in enumerate(case.get("steps", [])):
        scenario.write(step)
        scenario.apply(step)
        before = len(changes)
        registry.refresh()
        if mode in step.get("expect", {}):
            got = scenario.observe(registry)
            assert got == scenario.expected(step["expect"][mode]), f"step {number}"
        if mode == "strict":
            scenario.check_the_pure_function(registry)
        assert (len(changes) > before) == step["changed"][mode], f"step {number}: changed"


# -- what the table cannot say --------------------------------------------------------------


def _spec_dir(tmp_path: Path, **devices: int) -> Path:
    """A spec directory (0755) with one file per device, each with the given mode."""
    directory = tmp_path / "cdi"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    for device, mode in devices.items():
        path = directory / f"{device}.yaml"
        path.write_text(_spec(device), encoding="utf-8")
        path.chmod(mode)
    return directory


def _wait_out_the_racy_window() -> None:
    # Entries written this soon after a file changed are not trusted by the next scan.
    time.sleep((RACY_WINDOW_NS + 20_000_000) / 1e9)


def test_an_index_built_without_trust_cannot_smuggle_a_refused_file(tmp_path: Path) -> None:
    directory = _spec_dir(tmp_path, a=0o644, b=0o666)
    index = tmp_path / "index"
    _wait_out_the_racy_window()
    with cdi.Registry([directory], index=index) as loose:
        assert loose.list_devices() == [KIND + "a", KIND + "b"]
    (saved,) = index.glob("specs-*.idx")
    indexed = saved.read_bytes()
    assert b"vendor.com/device" in indexed and b'"b"' in indexed
    # Same index, same untouched files (so the index matches them): still refused.
    with cdi.Registry([directory], index=index, trust="strict") as strict:
        assert strict.list_devices() == [KIND + "a"]
        assert [str(e) for e in strict.errors()[str(directory / "b.yaml")]] == [
            f'refusing CDI Spec "{directory}/b.yaml": writable by group and others (mode 0666)'
        ]
        assert strict.get_device(KIND + "b") is None
    # The refused file's entry stays in the index (unused): registries of the two policies
    # sharing an index do not rewrite it for each other.
    assert saved.read_bytes() == indexed
    with cdi.Registry([directory], index=index) as again:
        assert again.list_devices() == [KIND + "a", KIND + "b"]
    assert saved.read_bytes() == indexed


def test_an_index_built_under_strict_then_the_file_is_trusted(tmp_path: Path) -> None:
    directory = _spec_dir(tmp_path, a=0o644, b=0o666)
    index = tmp_path / "index"
    with cdi.Registry([directory], index=index, trust="strict") as strict:
        assert strict.list_devices() == [KIND + "a"]
    (directory / "b.yaml").chmod(0o644)
    with cdi.Registry([directory], index=index, trust="strict") as strict:
        assert strict.list_devices() == [KIND + "a", KIND + "b"]
        assert strict.errors() == {}


def test_the_watcher_sees_a_chmod(tmp_path: Path) -> None:
    directory = _spec_dir(tmp_path, a=0o644, b=0o644)
    with cdi.Registry([directory], auto_refresh=True, trust="strict", index=False) as registry:
        assert registry.list_devices() == [KIND + "a", KIND + "b"]
        (directory / "b.yaml").chmod(0o666)
        # Read-your-writes: the access after the chmod sees it, without a refresh.
        assert registry.list_devices() == [KIND + "a"]
        (directory / "b.yaml").chmod(0o644)
        assert registry.list_devices() == [KIND + "a", KIND + "b"]
        if IS_ROOT:  # a chown is an attribute change too
            os.chown(directory / "a.yaml", 1000, -1)
            assert registry.list_devices() == [KIND + "b"]


def test_the_watcher_sees_a_chmod_of_the_spec_directory(tmp_path: Path) -> None:
    directory = _spec_dir(tmp_path, a=0o644)
    with cdi.Registry([directory], auto_refresh=True, trust="strict", index=False) as registry:
        assert registry.list_devices() == [KIND + "a"]
        directory.chmod(0o777)
        assert registry.list_devices() == []


def test_warnings_are_logged_once_per_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = _spec_dir(tmp_path, a=0o666, b=0o644)
    caplog.set_level(logging.WARNING, logger="cdi.registry.trust")
    registry = cdi.Registry([directory], trust="warn", index=False)
    text_a = f'untrusted CDI Spec "{directory}/a.yaml": writable by group and others (mode 0666)'
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("cdi.registry.trust", logging.WARNING, text_a)
    ]
    registry.refresh()
    registry.refresh()
    assert len(caplog.records) == 1  # the same warning: not again
    (directory / "b.yaml").chmod(0o664)
    registry.refresh()
    assert [r.getMessage() for r in caplog.records[1:]] == [
        f'untrusted CDI Spec "{directory}/b.yaml": writable by group (mode 0664)'
    ]
    (directory / "a.yaml").chmod(0o646)  # a different reason: a different warning
    registry.refresh()
    assert [r.getMessage() for r in caplog.records[2:]] == [
        f'untrusted CDI Spec "{directory}/a.yaml": writable by others (mode 0646)'
    ]
    (directory / "a.yaml").chmod(0o644)
    (directory / "b.yaml").chmod(0o644)
    registry.refresh()
    assert len(caplog.records) == 3
    assert registry.trust_warnings() == {}


def test_strict_refusals_are_not_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = _spec_dir(tmp_path, a=0o666)
    caplog.set_level(logging.DEBUG)
    registry = cdi.Registry([directory], trust="strict", index=False)
    assert caplog.records == []  # errors() has it, as every load error
    assert list(registry.errors()) == [str(directory / "a.yaml")]


def test_the_trust_error(tmp_path: Path) -> None:
    directory = _spec_dir(tmp_path, a=0o666)
    path = str(directory / "a.yaml")
    (refused,) = cdi.Registry([directory], trust="strict", index=False).errors()[path]
    assert isinstance(refused, cdi.TrustError) and isinstance(refused, cdi.CDIError)
    assert (refused.path, refused.reasons, refused.refused) == (
        path,
        ("writable by group and others (mode 0666)",),
        True,
    )
    (warned,) = cdi.Registry([directory], trust="warn", index=False).trust_warnings()[path]
    assert isinstance(warned, cdi.TrustError)
    assert (warned.path, warned.reasons, warned.refused) == (path, refused.reasons, False)
    assert cdi.Registry([directory], index=False).trust_warnings() == {}


def test_untrusted_reasons_of_a_stat(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("")
    path.chmod(0o620)
    info = os.stat(path)
    assert untrusted_reasons(info, euid=info.st_uid) == ["writable by group (mode 0620)"]
    other = info.st_uid + 1
    owner = "root" if other == 0 else f"root or uid {other}"
    expected = [] if info.st_uid == 0 else [f"owned by uid {info.st_uid}, not by {owner}"]
    assert untrusted_reasons(info, euid=other) == [*expected, "writable by group (mode 0620)"]


def test_check_spec_file_needs_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        check_spec_file(str(tmp_path / "missing.yaml"))


def test_check_spec_file_defaults_to_the_files_directory(tmp_path: Path) -> None:
    directory = _spec_dir(tmp_path, a=0o644)
    directory.chmod(0o775)
    assert check_spec_file(str(directory / "a.yaml")) == [
        f'directory "{directory}" is writable by group (mode 0775)'
    ]


# -- the start path -------------------------------------------------------------------------

STRICT_FROM_INDEX = """
import sys
from cdi.registry import Registry

registry = Registry([sys.argv[1]], trust=sys.argv[2])
assert registry.list_devices() == ["vendor.com/device=a"], registry.list_devices()
assert list(registry.errors()) == [sys.argv[1] + "/b.yaml"], registry.errors()
print(sorted(set(sys.modules) & {forbidden!r}))
"""


def test_strict_from_a_warm_index_imports_nothing_costly(tmp_path: Path) -> None:
    # cdi-runtime runs as root, so strict is its start path: refusing costs no import either.
    from test_start_path import FORBIDDEN

    directory = _spec_dir(tmp_path, a=0o644, b=0o666)
    _wait_out_the_racy_window()
    index = tmp_path / "index"
    index.mkdir(mode=0o700)
    env = {**os.environ, INDEX_DIR_ENV: str(index)}
    code = STRICT_FROM_INDEX.format(forbidden=set(FORBIDDEN))
    loaded = []
    for _ in range(2):  # the first writes the index, the second starts from it
        result = subprocess.run(
            [sys.executable, "-c", code, str(directory), "strict"],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        loaded = ast.literal_eval(result.stdout.strip())
    assert loaded == []


def test_an_index_written_under_strict_misleads_no_other_registry(tmp_path: Path) -> None:
    # A strict registry keeps a refused file's entry in the index but resolves without it:
    # the device table it would store does not describe the files the index lists.
    directory = _spec_dir(tmp_path, a=0o644, b=0o666, c=0o644)
    index = tmp_path / "index"
    _wait_out_the_racy_window()
    cdi.Registry([directory], index=index).close()
    (directory / "c.yaml").write_text(_spec("d"), encoding="utf-8")
    _wait_out_the_racy_window()
    with cdi.Registry([directory], index=index, trust="strict") as strict:  # learns c.yaml
        assert strict.list_devices() == [KIND + "a", KIND + "d"]
    with cdi.Registry([directory], index=index) as loose:
        found = {
            name: d.spec.path for name in loose.list_devices() if (d := loose.get_device(name))
        }
    assert found == {
        KIND + "a": str(directory / "a.yaml"),
        KIND + "b": str(directory / "b.yaml"),
        KIND + "d": str(directory / "c.yaml"),
    }


# -- a property: the index and the policies never mislead one another ----------------------


def _mutate_trust(rng: Any, dirs: list[Path]) -> None:
    from test_registry_index_property import NAMES, _distinct_kind, _spec_text

    directory = rng.choice(dirs)
    path = directory / rng.choice(NAMES)
    action = rng.choice(["add", "add-loose", "rewrite", "remove", "loosen", "tighten", "dir"])
    if action in ("add", "add-loose", "rewrite") or not path.exists():
        path.write_text(_spec_text(rng, path.name, _distinct_kind(path)))
        # Untrusted from the start: its key is the same for every registry that sees it.
        path.chmod(0o666 if action == "add-loose" else 0o644)
    elif action == "remove":
        path.unlink()
    elif action == "loosen":
        path.chmod(rng.choice([0o666, 0o664, 0o646]))
    elif action == "tighten":
        path.chmod(0o644)
    else:
        directory.chmod(0o755 if directory.stat().st_mode & 0o022 else 0o775)


@pytest.mark.parametrize("seed", range(3))
def test_policies_sharing_an_index_agree_with_full_scans(seed: int, tmp_path: Path) -> None:
    """Registries of every policy share one index, each writing it in turn; after each
    random batch of writes and mode changes, each holds what an index-free registry of its
    policy holds. Kinds are distinct, so the index's device table is used when it fits."""
    import random

    from test_registry_index_property import _view

    rng = random.Random(seed)
    dirs = [tmp_path / "low", tmp_path / "high"]
    for directory in dirs:
        directory.mkdir()
        directory.chmod(0o755)
    index = tmp_path / "index"
    long_lived = {mode: cdi.Registry(dirs, index=index, trust=mode) for mode in TRUST_MODES}
    for _ in range(25):
        for _ in range(rng.randint(1, 4)):
            _mutate_trust(rng, dirs)
        if rng.random() < 0.5:
            _wait_out_the_racy_window()
        expected = {
            mode: _view(cdi.Registry(dirs, index=False, trust=mode)) for mode in TRUST_MODES
        }
        # Fresh and long-lived registries of each policy, in a random order: each may write
        # the index that the next one starts from.
        checks = [(mode, fresh) for mode in TRUST_MODES for fresh in (True, False)]
        order = rng.sample(checks, len(checks))
        if rng.random() < 0.5:  # a new strict process first: it learns the batch, and refuses
            order.remove(("strict", True))
            order.insert(0, ("strict", True))
        for mode, fresh in order:
            if fresh:
                registry = cdi.Registry(dirs, index=index, trust=mode)
            else:
                registry = long_lived[mode]
                registry.refresh()
            assert _view(registry) == expected[mode], (mode, fresh)
