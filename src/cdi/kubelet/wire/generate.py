"""Write the Python modules of the kubelet wire definitions.

Run as ``python -m cdi.kubelet.wire.generate``.

The ``.proto`` files beside this module state the kubelet's contract; grpcio-tools compiles
them into ``<name>_pb2.py`` (messages), ``<name>_pb2.pyi`` (their types) and
``<name>_pb2_grpc.py`` (services). The results are committed, so that installing the
``kubernetes`` extra needs no compiler; ``tests/kubelet/test_wire_generated.py`` checks they
are what the ``.proto`` files give. The files are compiled from ``src`` as the include root:
each registers under a path of its own (``cdi/kubelet/wire/dra_v1.proto``), so two APIs never
collide as two ``api.proto`` would, and the generated imports are package imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

WIRE = Path(__file__).resolve().parent
#: The include root: ``src``, above the ``cdi`` package.
SOURCE_ROOT = WIRE.parents[2]
PROTOS = sorted(path.name for path in WIRE.glob("*.proto"))


def generate(out: Path) -> list[Path]:
    """Compile every ``.proto`` file into *out* (a tree like ``src``); the files written."""
    from grpc_tools import protoc  # only this tool needs grpcio-tools

    out.mkdir(parents=True, exist_ok=True)
    for name in PROTOS:
        status = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{SOURCE_ROOT}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                str(WIRE / name),
            ]
        )
        if status != 0:
            raise SystemExit(f"protoc failed on {name} (status {status})")
    return sorted((out / "cdi" / "kubelet" / "wire").glob("*_pb2*"))


def main() -> None:
    written = generate(SOURCE_ROOT)
    for path in written:
        sys.stdout.write(f"wrote {path.relative_to(SOURCE_ROOT)}\n")


if __name__ == "__main__":
    main()
