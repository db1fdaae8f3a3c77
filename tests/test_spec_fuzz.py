"""Hostile input: mutated spec documents never raise anything but SpecError.

A seeded mutation loop over every document in the vectors (and the schema's fixtures):
bytes are inserted, deleted and replaced, fragments of other documents and tokens known to
upset parsers are spliced in (long digit runs, surrogate escapes, anchors, tags, control
bytes, a BOM). The seeds are fixed, so a failure reproduces; the number of documents, not
the time, bounds the run.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import cdi
from cdi.errors import SpecError
from cdi.spec.encode import encode
from tables import VECTORS, load_table

DOCUMENTS_PER_SEED = 1500
SEEDS = (1, 2)

_TOKENS = (
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b": ",
    b'"',
    b"'",
    b"\n",
    b"  ",
    b"- ",
    b"\t",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",
    b"\\ud800",
    b"\\ud83d\\ude00",
    b"\\U0001F600",
    b"9" * 5000,
    b"-" + b"9" * 30,
    b"1e400",
    b"0x",
    b".inf",
    b".nan",
    b"~",
    b"null",
    b"&a ",
    b"*a",
    b"<<: ",
    b"!!int ",
    b"!!binary ",
    b"!!float ",
    b"!custom ",
    b"? ",
    b"|\n",
    b">-\n",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b"#",
)


def _seeds() -> list[bytes]:
    documents = []
    for case in load_table("spec/parse.yaml"):
        data = case["data"]
        documents.append(data if isinstance(data, bytes) else data.encode())
    for path in sorted((VECTORS / "schema" / "testdata").rglob("*")):
        if path.is_file():
            documents.append(path.read_bytes())
    examples = Path(__file__).parent.parent / "examples"
    documents.extend(path.read_bytes() for path in sorted(examples.rglob("*.yaml")))
    return documents


def _mutations(seed: int, count: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    seeds = _seeds()
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(data))
            operation = rng.randrange(4)
            if operation == 0:
                data[at:at] = rng.choice(_TOKENS)
            elif operation == 1:
                del data[at : at + rng.randint(1, 8)]
            elif operation == 2:
                data[at : at + 1] = bytes([rng.randrange(256)])
            else:
                donor = rng.choice(seeds)
                start = rng.randint(0, len(donor))
                data[at:at] = donor[start : start + rng.randint(1, 40)]
        yield bytes(data)


@pytest.mark.parametrize("seed", SEEDS)
def test_only_spec_errors_escape_parsing(seed: int) -> None:
    accepted = 0
    for data in _mutations(seed, DOCUMENTS_PER_SEED):
        # Text with undecodable bytes kept as surrogates, as file names and argv carry them.
        for form in (data, data.decode("utf-8", "surrogateescape")):
            try:
                spec = cdi.parse_spec(form, "fuzz.yaml")
            except SpecError:
                continue
            accepted += 1
            # What loads can be used: named, validated again and written in both formats.
            spec.qualified_names()
            cdi.minimum_version(spec)
            encode(spec, "yaml")
            encode(spec, "json")
    assert accepted, "the mutations should leave some documents valid"


def test_validate_never_prints_a_traceback(tmp_path: Path) -> None:
    files = []
    for index, data in enumerate(_mutations(3, 300)):
        path = tmp_path / f"spec{index}.{'json' if data.lstrip()[:1] == b'{' else 'yaml'}"
        path.write_bytes(data)
        files.append(str(path))
    command = "import sys; from cdi.cli.main import main; sys.exit(main())"
    result = subprocess.run(
        [sys.executable, "-c", command, "validate", *files], capture_output=True, check=False
    )
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert result.returncode in (0, 1), output[-2000:]
    assert "Traceback" not in output
    # One verdict per file, each starting with the file's name.
    reported = {line.split(":", 1)[0] for line in output.splitlines() if line.startswith("/")}
    assert reported == set(files)
