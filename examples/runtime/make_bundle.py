"""An OCI bundle whose container asks for CDI devices by annotation, for ``cdi-runtime``.

    python examples/runtime/make_bundle.py DIR DEVICE...

writes DIR/rootfs (busybox) and DIR/config.json: a container running ``env | grep ^FOO=``,
with the annotation ``cdi.k8s.io/example=DEVICE,...`` -- what ``podman --annotation`` or
``ctr run --annotation`` would put there. Then ``cdi-runtime run --bundle DIR ID`` injects the
devices and hands the bundle to runc.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cdi.runtime import default_oci_spec, make_busybox_rootfs
from cdi.runtime.runc import bundle_config


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    bundle, devices = Path(sys.argv[1]), sys.argv[2:]
    make_busybox_rootfs(bundle / "rootfs")
    spec = bundle_config(default_oci_spec(["sh", "-c", "env | grep ^FOO="]), "rootfs")
    spec["annotations"] = {"cdi.k8s.io/example": ",".join(devices)}
    (bundle / "config.json").write_text(json.dumps(spec, indent=2) + "\n")


if __name__ == "__main__":
    main()
