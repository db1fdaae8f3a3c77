"""The committed kubelet wire modules are what the .proto files give (regenerate with
``python -m cdi.kubelet.wire.generate`` after changing one)."""

from __future__ import annotations

from pathlib import Path

from cdi.kubelet.wire.generate import PROTOS, WIRE, generate


def test_the_generated_modules_are_current(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    assert [path.name for path in fresh] == sorted(path.name for path in WIRE.glob("*_pb2*"))
    for path in fresh:
        assert path.read_bytes() == (WIRE / path.name).read_bytes(), (
            f"{path.name} is out of date: run python -m cdi.kubelet.wire.generate"
        )


def test_every_api_is_compiled() -> None:
    assert PROTOS == [
        "deviceplugin_v1beta1.proto",
        "dra_v1.proto",
        "dra_v1beta1.proto",
        "pluginregistration_v1.proto",
    ]
