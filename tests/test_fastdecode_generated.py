"""The pre-generated decoders are what the schema table makes now, and are the ones used."""

from __future__ import annotations

from pathlib import Path

from cdi.spec import fastdecode, fastdecode_generated

GENERATED = Path(fastdecode_generated.__file__)


def test_the_generated_module_is_current() -> None:
    # If this fails, the schema or the generator changed: run `python -m cdi.spec.fastdecode`.
    assert GENERATED.read_text(encoding="utf-8") == fastdecode.generated_source()


def test_the_decoders_come_from_the_generated_module() -> None:
    fastdecode.decode_plain({"cdiVersion": "0.6.0", "kind": "a.com/b", "devices": []})
    assert fastdecode._decoder(False) is fastdecode_generated.plain_decode_Spec
    assert fastdecode._decoder(True) is fastdecode_generated.checked_decode_Spec
