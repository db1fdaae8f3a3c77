"""Generated spec files for the benchmarks, and the raw-parse floor they are measured against.

About a third look like an NVIDIA host (per-GPU devices, `all`, many library mounts, hooks),
the rest are small vendor specs with a few device nodes and env entries. The floor reads a
file and parses it with ``json.loads`` or libyaml's ``CSafeLoader``: no checks, no model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import yaml


def _gpu_spec(rng: random.Random, index: int) -> dict[str, Any]:
    gpus = rng.randint(1, 8)
    devices: list[dict[str, Any]] = []
    for gpu in range(gpus):
        nodes = [{"path": f"/dev/nvidia{gpu}"}, {"path": f"/dev/dri/card{gpu + 1}"}]
        devices.append({"name": str(gpu), "containerEdits": {"deviceNodes": nodes}})
        uuid = f"GPU-{rng.getrandbits(128):032x}"
        devices.append({"name": uuid, "containerEdits": {"deviceNodes": nodes}})
    all_nodes = [{"path": f"/dev/nvidia{gpu}"} for gpu in range(gpus)]
    devices.append({"name": "all", "containerEdits": {"deviceNodes": all_nodes}})
    libraries = [
        f"/usr/lib/x86_64-linux-gnu/lib{name}.so.550.{index}"
        for name in (
            "cuda",
            "nvidia-ml",
            "nvidia-ptxjitcompiler",
            "nvidia-opencl",
            "nvidia-nvvm",
            "nvidia-cfg",
            "nvidia-gpucomp",
            "nvidia-allocator",
            "nvidia-eglcore",
            "nvidia-glcore",
            "nvidia-glsi",
            "nvidia-tls",
            "nvidia-fbc",
            "nvidia-encode",
            "nvcuvid",
        )
    ]
    mounts = [
        {"hostPath": lib, "containerPath": lib, "options": ["ro", "nosuid", "nodev", "bind"]}
        for lib in libraries
    ]
    return {
        "cdiVersion": "0.5.0",
        "kind": f"nvidia{index}.com/gpu",
        "devices": devices,
        "containerEdits": {
            "env": ["NVIDIA_VISIBLE_DEVICES=void"],
            "deviceNodes": [{"path": "/dev/nvidiactl"}, {"path": "/dev/nvidia-uvm"}],
            "hooks": [
                {
                    "hookName": "createContainer",
                    "path": "/usr/bin/nvidia-cdi-hook",
                    "args": [
                        "nvidia-cdi-hook",
                        "update-ldcache",
                        "--folder",
                        "/usr/lib/x86_64-linux-gnu",
                    ],
                }
            ],
            "mounts": mounts,
        },
    }


def _small_spec(rng: random.Random, index: int) -> dict[str, Any]:
    devices = []
    for number in range(rng.randint(1, 4)):
        devices.append(
            {
                "name": f"dev{number}",
                "containerEdits": {
                    "env": [f"VENDOR_DEVICE_{number}=on"],
                    "deviceNodes": [
                        {
                            "path": f"/dev/vendor{index}-{number}",
                            "type": "c",
                            "major": 240,
                            "minor": number,
                            "permissions": "rw",
                        }
                    ],
                },
            }
        )
    return {"cdiVersion": "0.3.0", "kind": f"vendor{index}.example.com/device", "devices": devices}


def generate(directory: Path, count: int, fmt: str, seed: int = 1) -> list[Path]:
    """Write *count* spec files in *fmt* ("json" or "yaml") into *directory*."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        make = _gpu_spec if index % 3 == 0 else _small_spec
        document = make(rng, index)
        path = directory / f"spec-{index:05d}.{fmt}"
        if fmt == "json":
            path.write_text(json.dumps(document))
        else:
            path.write_text(yaml.safe_dump(document, sort_keys=False))
        paths.append(path)
    return paths


def raw_json(path: Path) -> Any:
    """Read and ``json.loads`` a file: the JSON floor."""
    with open(path, "rb") as handle:
        return json.loads(handle.read())


def raw_yaml(path: Path) -> Any:
    """Read and load a file with libyaml's ``CSafeLoader``: the YAML floor."""
    with open(path, "rb") as handle:
        return yaml.load(handle.read(), Loader=yaml.CSafeLoader)
