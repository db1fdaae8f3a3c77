"""Spec bytes as the Go writer makes them (cdi.spec.goencode, cdi.spec.goyaml).

The quoting table is tests/vectors/generate/yaml_v3_quoting.yaml; the layouts below are the
ones nvidia-ctk's golden test and hardware-generators.md (section 2.6, Appendix B) show.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdi.errors import SpecError
from cdi.spec.goencode import encode_go, natural_key_order
from cdi.spec.goyaml import dump_document, needs_quotes
from cdi.spec.load import parse_spec
from cdi.spec.model import ContainerEdits, Device, DeviceNode, Hook, Mount, Spec
from cdi.spec.yaml11 import TAG_STR, load, resolve_plain
from tables import cases


@cases("generate/yaml_v3_quoting.yaml")
def test_yaml_v3_quoting(case: dict[str, Any]) -> None:
    text = dump_document({"k": case["value"]})
    assert text == f"k: {case['written']}\n"
    # The direct writer for simple documents and the full emitter agree.
    assert dump_document({"k": case["value"]}, fast=False) == text
    # Whatever the style, a YAML 1.1 reader gets the same string back.
    assert load(text) == [("k", case["value"])]
    if case.get("v3_only"):
        assert resolve_plain(case["value"])[0] == TAG_STR
        assert needs_quotes(case["value"])


def test_keys_are_quoted_like_values() -> None:
    assert dump_document({"1": "a", "yes": "b", "x": "c"}) == '"1": a\n"yes": b\nx: c\n'


def test_long_keys_stay_simple_up_to_128_bytes() -> None:
    # yaml.v3 writes "key: value" for keys of up to 128 bytes, a "? key" entry beyond.
    assert dump_document({"a" * 128: 1}) == "a" * 128 + ": 1\n"
    assert dump_document({"b" * 129: 2}) == "? " + "b" * 129 + "\n: 2\n"


def test_long_strings_are_not_folded() -> None:
    words = " ".join(["word"] * 30_000)
    assert dump_document({"k": words}) == f"k: {words}\n"


HOOK = Hook(
    "createContainer",
    "/usr/bin/nvidia-cdi-hook",
    args=(
        "nvidia-cdi-hook",
        "create-symlinks",
        "--link",
        "libcuda.so.1::/lib/x86_64-linux-gnu/libcuda.so",
    ),
    env=("NVIDIA_CTK_DEBUG=false",),
)
GOLDEN = Spec(
    "0.5.0",
    "example.com/device",
    devices=(
        Device(
            "0",
            container_edits=ContainerEdits(
                device_nodes=(DeviceNode("/dev/nvidia0", host_path="/tmp/root/dev/nvidia0"),)
            ),
        ),
    ),
    container_edits=ContainerEdits(
        env=("NVIDIA_CTK_LIBCUDA_DIR=/lib/x86_64-linux-gnu",),
        hooks=(HOOK,),
        mounts=(
            Mount(
                "/tmp/root/lib/x86_64-linux-gnu/libcuda.so.999.88.77",
                "/lib/x86_64-linux-gnu/libcuda.so.999.88.77",
                options=("ro",),
            ),
        ),
    ),
)

GOLDEN_YAML = """\
---
cdiVersion: 0.5.0
kind: example.com/device
devices:
    - name: "0"
      containerEdits:
        deviceNodes:
            - path: /dev/nvidia0
              hostPath: /tmp/root/dev/nvidia0
containerEdits:
    env:
        - NVIDIA_CTK_LIBCUDA_DIR=/lib/x86_64-linux-gnu
    hooks:
        - hookName: createContainer
          path: /usr/bin/nvidia-cdi-hook
          args:
            - nvidia-cdi-hook
            - create-symlinks
            - --link
            - libcuda.so.1::/lib/x86_64-linux-gnu/libcuda.so
          env:
            - NVIDIA_CTK_DEBUG=false
    mounts:
        - hostPath: /tmp/root/lib/x86_64-linux-gnu/libcuda.so.999.88.77
          containerPath: /lib/x86_64-linux-gnu/libcuda.so.999.88.77
          options:
            - ro
"""


def test_yaml_layout_of_the_golden_spec() -> None:
    assert encode_go(GOLDEN, "yaml").decode() == GOLDEN_YAML


def test_json_is_compact_without_a_final_newline() -> None:
    data = encode_go(GOLDEN, "json")
    assert data.startswith(b'{"cdiVersion":"0.5.0","kind":"example.com/device","devices":[')
    assert not data.endswith(b"\n")
    assert b" " not in data
    assert json.loads(data)["devices"][0]["name"] == "0"


def test_spec_container_edits_always_in_json_only_when_set_in_yaml() -> None:
    spec = Spec(
        "0.3.0", "a.com/b", devices=(Device("x", container_edits=ContainerEdits(env=("A=1",))),)
    )
    assert encode_go(spec, "json").endswith(b',"containerEdits":{}}')
    # YAML leaves the empty spec edits out (omitempty); the device's are always written.
    assert encode_go(spec, "yaml").decode() == (
        "---\ncdiVersion: 0.3.0\nkind: a.com/b\ndevices:\n    - name: x\n"
        "      containerEdits:\n        env:\n            - A=1\n"
    )


def test_device_node_fields_of_a_real_host() -> None:
    # Appendix B: minor 0 and gid 0 are left out, fileMode is decimal, gids a list.
    spec = Spec(
        "0.7.0",
        "nvidia.com/gpu",
        devices=(
            Device(
                "0",
                container_edits=ContainerEdits(
                    device_nodes=(
                        DeviceNode("/dev/nvidia0", major=195, file_mode=0o666, permissions="rwm"),
                        DeviceNode(
                            "/dev/dri/card1",
                            major=226,
                            minor=1,
                            file_mode=0o660,
                            permissions="rwm",
                            gid=44,
                        ),
                    ),
                    additional_gids=(44,),
                ),
            ),
        ),
    )
    assert encode_go(spec, "yaml").decode() == (
        "---\n"
        "cdiVersion: 0.7.0\n"
        "kind: nvidia.com/gpu\n"
        "devices:\n"
        '    - name: "0"\n'
        "      containerEdits:\n"
        "        deviceNodes:\n"
        "            - path: /dev/nvidia0\n"
        "              major: 195\n"
        "              fileMode: 438\n"
        "              permissions: rwm\n"
        "            - path: /dev/dri/card1\n"
        "              major: 226\n"
        "              minor: 1\n"
        "              fileMode: 432\n"
        "              permissions: rwm\n"
        "              gid: 44\n"
        "        additionalGids:\n"
        "            - 44\n"
    )


def test_chmod_mode_and_mig_names_are_quoted() -> None:
    hook = Hook("createContainer", "/usr/bin/nvidia-cdi-hook", args=("x", "chmod", "--mode", "755"))
    spec = Spec(
        "0.5.0",
        "nvidia.com/gpu",
        devices=(Device("0:1", container_edits=ContainerEdits(hooks=(hook,))),),
    )
    text = encode_go(spec, "yaml").decode()
    assert '    - name: "0:1"\n' in text
    assert '                - "755"\n' in text


def test_annotations_in_go_map_order() -> None:
    annotations = {"b": "1", "a10": "2", "a2": "3", "A": "4"}
    spec = Spec(
        "0.6.0",
        "a.com/b",
        annotations=annotations,
        devices=(Device("x", annotations, ContainerEdits(env=("A=1",))),),
    )
    text = encode_go(spec, "yaml").decode()
    assert 'annotations:\n    A: "4"\n    a2: "3"\n    a10: "2"\n    b: "1"\n' in text
    assert '      annotations:\n        A: "4"\n        a2: "3"\n' in text
    data = encode_go(spec, "json").decode()
    assert '"annotations":{"A":"4","a10":"2","a2":"3","b":"1"}' in data


@pytest.mark.parametrize(
    ("keys", "ordered"),
    [
        (["a10", "a2", "a1"], ["a1", "a2", "a10"]),
        (["b", "B", "a"], ["B", "a", "b"]),
        (["a01", "a1", "a001"], ["a1", "a01", "a001"]),
        (["10", "9", "x"], ["9", "10", "x"]),
    ],
)
def test_natural_key_order(keys: list[str], ordered: list[str]) -> None:
    assert sorted(keys, key=natural_key_order) == ordered


def test_json_escapes_html_characters_as_go_does() -> None:
    spec = Spec(
        "0.3.0",
        "a.com/b",
        devices=(Device("x", container_edits=ContainerEdits(env=("A=<&>\u2028",))),),
    )
    assert b'"env":["A=\\u003c\\u0026\\u003e\\u2028"]' in encode_go(spec, "json")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_encoded_spec_reads_back_the_same(fmt: str) -> None:
    assert parse_spec(encode_go(GOLDEN, fmt)) == GOLDEN


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown spec format 'toml'"):
        encode_go(GOLDEN, "toml")


def test_text_that_is_not_unicode() -> None:
    spec = Spec(
        "0.3.0",
        "a.com/b",
        devices=(Device("x", container_edits=ContainerEdits(env=("A=\udcff",))),),
    )
    for fmt in ("yaml", "json"):
        with pytest.raises(SpecError, match="is not valid UTF-8 text"):
            encode_go(spec, fmt)


def test_direct_writer_agrees_with_the_emitter_on_random_strings() -> None:
    """Seeded strings over YAML's indicator characters: the fast path for simple documents
    must give the emitter's bytes whenever it accepts a value."""
    import random

    rng = random.Random(20261201)
    alphabet = "a0Z9-.:_/@#~,=+^$()!&*?| '\"%`[]{}<>\\eE"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
        document = {"k": text, "list": [text, "x"], "nested": {text[:3] or "a": 1}}
        assert dump_document(document) == dump_document(document, fast=False), repr(text)
