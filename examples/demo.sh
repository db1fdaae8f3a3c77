#!/bin/sh
# `make demo`: load the example spec directory, validate it, show its devices.
set -eu
bin=${1:-.venv/bin}
specs=examples/cdi

echo "== cdi validate $specs/*.yaml"
"$bin/cdi" validate "$specs"/*.yaml

echo
echo "== devices and minimum spec versions"
"$bin/python" - "$specs" <<'PY'
import sys
from pathlib import Path

import cdi

for path in sorted(Path(sys.argv[1]).glob("*.yaml")):
    spec = cdi.load_spec(path)
    for name in spec.qualified_names():
        print(f"{name}  (cdiVersion {spec.cdi_version}, minimum {cdi.minimum_version(spec)})")
PY
