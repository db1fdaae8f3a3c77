"""The persistent index: trust rules, damage, lazy decoding, and the normalised form."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cdi
import cdi.spec.load
from cdi.registry import index as index_module
from cdi.registry import indexcodec, scan
from needs import unavailable
from tables import cases, load_table
from test_spec_vectors import _expand

OTHER_UID = 65534  # nobody


def _spec(kind: str, devices: dict[str, str], hook: str | None = None) -> str:
    document: dict[str, Any] = {
        "cdiVersion": "0.6.0",
        "kind": kind,
        "devices": [
            {"name": name, "containerEdits": {"env": [env]}} for name, env in devices.items()
        ],
    }
    if hook is not None:
        document["containerEdits"] = {"hooks": [{"hookName": "createContainer", "path": hook}]}
    return json.dumps(document)


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """The paths parse_spec was called for (as a registry reads spec files)."""
    counter: Counter[str] = Counter()
    parse_spec = cdi.spec.load.parse_spec

    def counting(data: str | bytes, path: str | None = None, **options: Any) -> Any:
        counter[str(path)] += 1
        return parse_spec(data, path, **options)

    monkeypatch.setattr(cdi.spec.load, "parse_spec", counting)
    yield counter


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "specs"
    directory.mkdir()
    (directory / "a.json").write_text(_spec("alpha.com/gpu", {"0": "A=0", "1": "A=1"}))
    (directory / "b.json").write_text(_spec("beta.com/fpga", {"x": "B=x"}))
    (directory / "c.yaml").write_text(
        "cdiVersion: 0.6.0\nkind: gamma.com/nic\ndevices:\n- name: eth0\n"
        "  containerEdits:\n    env: [C=eth0]\n"
    )
    _age()
    return directory


def _age() -> None:
    """Let every file written so far grow older than the racy window."""
    time.sleep((scan.RACY_WINDOW_NS + 20_000_000) / 1e9)


def _index_file(index_dir: Path) -> Path:
    (found,) = index_dir.glob("specs-*.idx")
    return found


def _view(registry: cdi.Registry) -> Any:
    return [
        (name, found.path, found.device) if (found := registry.get_device(name)) else None
        for name in registry.list_devices()
    ]


def _rewrite(
    path: Path, head_fields: list[bytes] | None = None, header: bytes | None = None
) -> None:
    """Rewrite the index at *path* with another first line or header (digest made to match)."""
    data = path.read_bytes()
    first, _, rest = data.partition(b"\n")
    fields = first.split(b" ")
    old_header_length = int(fields[2])
    blobs = rest[old_header_length:]
    if header is None:
        header = rest[:old_header_length]
    fields[2] = b"%d" % len(header)
    fields[4] = index_module.digest(header).hex().encode()
    if head_fields is not None:
        fields = head_fields
    path.write_bytes(b" ".join(fields) + b"\n" + header + blobs)


def _tamper(case: dict[str, Any], index_dir: Path) -> None:
    path = _index_file(index_dir)
    data = path.read_bytes()
    tamper = case["tamper"]
    if tamper in ("file-owner", "dir-owner") and os.geteuid() != 0:
        unavailable("changing an owner needs root")
    if tamper == "version":
        first = data.partition(b"\n")[0].split(b" ")
        _rewrite(path, head_fields=[first[0], b"2", *first[2:]])
    elif tamper == "magic":
        path.write_bytes(b"not-an-index" + data[9:])
    elif tamper == "truncate":
        path.write_bytes(data[:-1])
    elif tamper == "first-line":
        path.write_bytes(data.partition(b"\n")[0] + b"\n")
    elif tamper == "empty":
        path.write_bytes(b"")
    elif tamper == "append":
        path.write_bytes(data + b" ")
    elif tamper == "header-byte":
        path.write_bytes(data.replace(b'"x"', b'"y"', 1))
    elif tamper == "header-digest":
        first, _, rest = data.partition(b"\n")
        fields = first.split(b" ")
        fields[4] = b"0" * len(fields[4])
        path.write_bytes(b" ".join(fields) + b"\n" + rest)
    elif tamper == "header-not-json":
        _rewrite(path, header=b"{not json")
    elif tamper == "header-wrong-shape":
        _rewrite(path, header=b'{"dirs": [], "files": 7}')
    elif tamper == "file-mode":
        path.chmod(int(case["mode"], 8))
    elif tamper == "file-owner":
        os.chown(path, OTHER_UID, OTHER_UID)
    elif tamper == "symlink":
        copy = index_dir.parent / "copy.idx"
        copy.write_bytes(data)
        copy.chmod(0o600)
        path.unlink()
        path.symlink_to(copy)
    elif tamper == "dir-mode":
        index_dir.chmod(int(case["mode"], 8))
    elif tamper == "dir-owner":
        os.chown(index_dir, OTHER_UID, OTHER_UID)
    else:
        assert tamper == "none", tamper


@cases("registry/index.yaml")
def test_index_trust(
    case: dict[str, Any], spec_dir: Path, tmp_path: Path, parsed: Counter[str]
) -> None:
    index_dir = tmp_path / "index"
    expected = _view(cdi.Registry([spec_dir], index=False))
    assert _view(cdi.Registry([spec_dir], index=index_dir)) == expected
    assert len(parsed) == 3
    _tamper(case, index_dir)
    parsed.clear()
    assert _view(cdi.Registry([spec_dir], index=index_dir)) == expected
    assert len(parsed) == (0 if case["expect"] == "used" else 3)
    if case["expect"] == "ignored":
        parsed.clear()
        cdi.Registry([spec_dir], index=index_dir)
        assert len(parsed) == (0 if case["rebuilt"] else 3)


def _forge(index_file: Path, hook: str) -> None:
    """Make the index claim, with every digest correct, that spec b.json adds a hook."""
    data = index_file.read_bytes()
    first, _, rest = data.partition(b"\n")
    fields = first.split(b" ")
    header_length = int(fields[2])
    header = json.loads(rest[:header_length])
    blobs = rest[header_length:]
    parts = []
    for entry in header["files"]:
        blob = blobs[entry[6] : entry[6] + entry[7]]
        if entry[0].endswith("/b.json"):
            spec = json.loads(blob)
            spec["containerEdits"] = {"hooks": [{"hookName": "createContainer", "path": hook}]}
            blob = json.dumps(spec).encode()
        entry[6], entry[7] = sum(len(part) for part in parts), len(blob)
        entry[8] = index_module.digest(blob).hex()
        parts.append(blob)
    new_header = json.dumps(header).encode()
    fields[2], fields[3] = b"%d" % len(new_header), b"%d" % sum(len(part) for part in parts)
    fields[4] = index_module.digest(new_header).hex().encode()
    index_file.write_bytes(b" ".join(fields) + b"\n" + new_header + b"".join(parts))


@pytest.mark.parametrize("writable_by_others", [False, True])
def test_a_forged_index_is_used_only_where_no_one_else_can_write_it(
    spec_dir: Path, tmp_path: Path, writable_by_others: bool
) -> None:
    """The index is trusted like the spec files: a forgery by its owner works (it could as
    well edit the spec files); by anyone else it must be impossible or ignored."""
    index_dir = tmp_path / "index"
    cdi.Registry([spec_dir], index=index_dir)
    index_file = _index_file(index_dir)
    _forge(index_file, "/tmp/evil")
    index_file.chmod(0o666 if writable_by_others else 0o600)
    edits = cdi.Registry([spec_dir], index=index_dir).resolve_edits(["beta.com/fpga=x"])
    hooks = [hook.path for hook in edits.hooks]
    assert hooks == ([] if writable_by_others else ["/tmp/evil"])


def test_specs_are_decoded_only_when_used(spec_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    cdi.Registry([spec_dir], index=index_dir)
    registry = cdi.Registry([spec_dir], index=index_dir)
    assert registry.list_devices() == [
        "alpha.com/gpu=0",
        "alpha.com/gpu=1",
        "beta.com/fpga=x",
        "gamma.com/nic=eth0",
    ]
    assert [f.vendor for f in registry.specs()] == ["alpha.com", "beta.com", "gamma.com"]
    assert [f._spec for f in registry.specs()] == [None, None, None]
    found = registry.get_device("beta.com/fpga=x")
    assert found is not None
    assert found.device.container_edits.env == ("B=x",)
    decoded = [f._spec is not None for f in registry.specs()]
    assert decoded == [False, True, False]


def test_a_damaged_blob_falls_back_to_the_file(
    spec_dir: Path, tmp_path: Path, parsed: Counter[str]
) -> None:
    """A blob that does not match its digest (the header still does) is not decoded: the
    spec file is parsed instead."""
    index_dir = tmp_path / "index"
    expected = _view(cdi.Registry([spec_dir], index=False))
    cdi.Registry([spec_dir], index=index_dir)
    index_file = _index_file(index_dir)
    index_file.write_bytes(index_file.read_bytes().replace(b"B=x", b"B=z"))
    parsed.clear()
    assert _view(cdi.Registry([spec_dir], index=index_dir)) == expected
    assert list(parsed) == [str(spec_dir / "b.json")]


def test_a_file_changed_after_the_index_was_written_is_parsed_again(
    spec_dir: Path, tmp_path: Path, parsed: Counter[str]
) -> None:
    index_dir = tmp_path / "index"
    cdi.Registry([spec_dir], index=index_dir)
    (spec_dir / "b.json").write_text(_spec("beta.com/fpga", {"x": "B=changed"}))
    parsed.clear()
    registry = cdi.Registry([spec_dir], index=index_dir)
    assert list(parsed) == [str(spec_dir / "b.json")]
    assert registry.resolve_edits(["beta.com/fpga=x"]).env == ("B=changed",)


def test_each_list_of_directories_has_its_own_index(spec_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    other = tmp_path / "other"
    other.mkdir()
    cdi.Registry([spec_dir], index=index_dir)
    cdi.Registry([spec_dir, other], index=index_dir)
    assert len(list(index_dir.glob("specs-*.idx"))) == 2


def test_an_unwritable_index_directory_is_no_error(spec_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    registry = cdi.Registry([spec_dir], index=blocker / "index")
    assert len(registry.list_devices()) == 4


def test_the_index_directory_is_created_private(spec_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "new" / "index"
    cdi.Registry([spec_dir], index=index_dir)
    assert index_dir.stat().st_mode & 0o777 == 0o700
    assert _index_file(index_dir).stat().st_mode & 0o777 == 0o600


def test_the_default_location(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"CDI_INDEX_DIR": "/somewhere"}
    assert index_module.default_index_dir(environ) == "/somewhere"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert index_module.default_index_dir({}) == "/var/cache/cdi"
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert index_module.default_index_dir({"XDG_CACHE_HOME": "/c"}) == "/c/cdi"
    monkeypatch.setenv("HOME", "/home/u")
    assert index_module.default_index_dir({}) == "/home/u/.cache/cdi"


def _valid_parse_cases() -> Any:
    table = [_expand(case) for case in load_table("spec/parse.yaml")]
    chosen = [case for case in table if "error" not in case]
    return pytest.mark.parametrize("case", chosen, ids=[case["name"] for case in chosen])


@_valid_parse_cases()
def test_the_normalised_form_reads_back_to_the_same_spec(case: dict[str, Any]) -> None:
    spec = cdi.parse_spec(case["data"], "test.yaml")
    assert indexcodec.decode_spec(indexcodec.encode_spec(spec)) == spec


def test_unchanged_files_reuse_the_resolved_devices(spec_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    expected = _view(cdi.Registry([spec_dir], index=False))
    first = cdi.Registry([spec_dir], index=index_dir)
    assert first._snapshot.devices._stored is None  # resolved by this scan
    again = cdi.Registry([spec_dir], index=index_dir)
    assert again._snapshot.devices._stored is not None  # taken from the index
    assert _view(again) == expected
    assert again.get_device("nope.com/x=y") is None
    assert "beta.com/fpga=x" in again._snapshot.devices


def test_names_defined_twice_are_resolved_again(spec_dir: Path, tmp_path: Path) -> None:
    """The index keeps no definitions: where there are some, every process resolves."""
    (spec_dir / "d.json").write_text(_spec("beta.com/fpga", {"x": "B=again"}))
    _age()
    index_dir = tmp_path / "index"
    expected = cdi.Registry([spec_dir], index=False)
    cdi.Registry([spec_dir], index=index_dir)
    again = cdi.Registry([spec_dir], index=index_dir)
    assert again._snapshot.devices._stored is None
    assert _view(again) == _view(expected)
    assert again.definitions() == expected.definitions() != {}
    errors = {path: [str(e) for e in found] for path, found in again.errors().items()}
    assert errors == {p: [str(e) for e in f] for p, f in expected.errors().items()}


def test_relative_and_absolute_spec_dirs_share_one_index(
    spec_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    monkeypatch.chdir(spec_dir.parent)
    cdi.Registry([spec_dir.name], index=index_dir)
    cdi.Registry([spec_dir], index=index_dir)
    assert len(list(index_dir.glob("specs-*.idx"))) == 1
    monkeypatch.chdir(tmp_path.parent)  # the same relative name is another directory here
    assert cdi.Registry([spec_dir.name], index=index_dir).list_devices() == []


def test_old_indexes_and_dead_temporaries_are_pruned(
    spec_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "MAX_INDEXES", 3)
    index_dir = tmp_path / "index"
    index_dir.mkdir(mode=0o700)
    dead = index_dir / ".specs-0000000000000000.idx.1-abcd.tmp"
    dead.write_text("")
    os.utime(dead, (time.time() - 7200, time.time() - 7200))
    young = index_dir / ".specs-1111111111111111.idx.2-abcd.tmp"
    young.write_text("")
    for number in range(5):
        other = tmp_path / f"other{number}"
        other.mkdir()
        cdi.Registry([spec_dir, other], index=index_dir)
        time.sleep(0.01)  # distinct mtimes
    cdi.Registry([spec_dir], index=index_dir)
    remaining = sorted(path.name for path in index_dir.iterdir())
    assert len([name for name in remaining if name.endswith(".idx")]) == 3
    assert dead.name not in remaining and young.name in remaining
    assert index_module.IndexStore(str(index_dir), [str(spec_dir)]).name in remaining
