#!/usr/bin/env bash
# GPU check for `cdi generate nvidia` on a real NVIDIA host (run as root; no network needed).
#
# 1. finds the driver root (/, /run/nvidia/driver, /usr/local/nvidia, /home/kubernetes/bin/nvidia),
# 2. generates the spec in NVML mode and validates it with `cdi validate`,
# 3. checks that every hostPath and mount source in it exists,
# 4. starts `nvidia-smi -L` under runc with nvidia.com/gpu=all injected, in a root filesystem
#    made of busybox and the host's glibc.
#
# Usage: tests/gpu/check.sh [OUTDIR]. Python dependencies come from the environment, else
# from wheels in .whl/ (pip install --target); runc and busybox from PATH, else from .gpu/.
# Prints a report; exit status 0 only when every step passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-${OUT:-/tmp/cdi-gpu-check}}
mkdir -p "$out"
work=$(mktemp -d /tmp/cdi-gpu.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
step() { echo; echo "== $*"; }
bad() { echo "FAIL: $*"; failed=1; }

export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if ! python3 -c 'import yaml, click, pynvml, dockerfile, inotify_simple' 2>/dev/null; then
    if ls .whl/*.whl >/dev/null 2>&1; then
        python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" .whl/*.whl
        export PYTHONPATH="$PYTHONPATH:$work/site"
    fi
fi
export PATH="$PWD/.gpu:$PATH"
cdi() { python3 -m cdi "$@"; }

step "host"
uname -a
nvidia-smi -L 2>&1 || echo "(no nvidia-smi on the host PATH)"

step "driver root"
root=""
for candidate in / /run/nvidia/driver /usr/local/nvidia /home/kubernetes/bin/nvidia; do
    for dir in usr/lib64 usr/lib/x86_64-linux-gnu lib64 lib/x86_64-linux-gnu lib usr/lib; do
        if [ -e "$candidate/$dir/libnvidia-ml.so.1" ]; then root=$candidate; break 2; fi
    done
done
[ -n "$root" ] || { bad "no libnvidia-ml.so.1 under any known driver root"; exit 1; }
echo "driver root: $root"

step "generate (nvml mode)"
spec="$out/nvidia.yaml"
if ! /usr/bin/time -v python3 -m cdi generate nvidia --mode nvml --driver-root "$root" --dev-root / \
        --output "$spec" 2>"$work/generate.err"; then
    cat "$work/generate.err"; bad "cdi generate nvidia failed"; exit 1
fi
grep -E "Generated|Warning|Elapsed|Maximum resident" "$work/generate.err"
cdi --spec-dir "$out" devices
cdi --spec-dir "$out" validate "$spec" || bad "cdi validate"

step "every hostPath and mount source exists"
python3 - "$spec" <<'PY' || failed=1
import os, sys
import cdi
spec = cdi.load_spec(sys.argv[1])
edits = [spec.container_edits, *(d.container_edits for d in spec.devices)]
missing = [p for e in edits for p in
           [n.host_path or n.path for n in e.device_nodes] + [m.host_path for m in e.mounts]
           if not os.path.exists(p)]
print(f"{len(spec.devices)} devices, {len(spec.container_edits.mounts)} common mounts")
for p in sorted(set(missing)):
    print("missing:", p)
sys.exit(1 if missing else 0)
PY

step "nvidia-smi -L in a runc container with nvidia.com/gpu=all"
rootfs="$work/rootfs"
cdi rootfs "$rootfs" || bad "cdi rootfs"
# nvidia-smi is linked against glibc: copy the host's loader and C libraries in.
for lib in /lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/{libc,libm,libdl,libpthread,librt}.so.*; do
    [ -e "$lib" ] || continue
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
done
# Without the update-ldcache hook binary, make the libraries' SONAME links in the rootfs.
hooks=()
command -v nvidia-cdi-hook >/dev/null || hooks=(--disable-hook all)
python3 -m cdi generate nvidia --mode nvml --driver-root "$root" --dev-root / "${hooks[@]}" \
    --output "$work/spec/nvidia.yaml" 2>/dev/null
python3 - "$work/spec/nvidia.yaml" "$rootfs" <<'PY'
import os, sys
import cdi
from cdi.elfinfo import read_soname
spec, rootfs = cdi.load_spec(sys.argv[1]), sys.argv[2]
for m in spec.container_edits.mounts:
    name = read_soname(m.host_path)
    if name and name != os.path.basename(m.container_path):
        link = rootfs + os.path.join(os.path.dirname(m.container_path), name)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(os.path.basename(m.container_path), link)
PY
dirs=$(python3 -c "import cdi,sys; print(':'.join(sorted({__import__('os').path.dirname(m.container_path) for m in cdi.load_spec(sys.argv[1]).container_edits.mounts})))" "$work/spec/nvidia.yaml")
if cdi --spec-dir "$work/spec" run --rootfs "$rootfs" --device nvidia.com/gpu=all \
        --env "LD_LIBRARY_PATH=$dirs" --env "PATH=/usr/bin:/bin:/sbin" -- nvidia-smi -L \
        >"$out/nvidia-smi.txt" 2>&1; then
    cat "$out/nvidia-smi.txt"
    grep -q "^GPU 0" "$out/nvidia-smi.txt" || bad "nvidia-smi -L listed no GPU"
else
    cat "$out/nvidia-smi.txt"; bad "container run"
fi

step "cdi build of the tutorial's GPU Dockerfile (nvidia.com/gpu on demand)"
# The hooks run through cdi's own hook command from this checkout (no install needed).
hook="$work/cdi-hook"
cat >"$hook" <<HOOK
#!/bin/sh
exec python3 -c 'import os, sys; sys.path[:0] = os.environ.get("CDI_CHECK_PATH", "").split(":"); from cdi.hooks.main import run; sys.exit(run(sys.argv[1:], sys.stdin.buffer, dict(os.environ)))' "\$@"
HOOK
sed -i "s|^exec python3|CDI_CHECK_PATH=$PYTHONPATH exec $(command -v python3)|" "$hook"
chmod +x "$hook"
mkdir -p "$work/build-cdi"
if NVIDIA_CTK_CDI_HOOK_PATH="$hook" NVIDIA_CTK_DRIVER_ROOT="$root" \
        cdi --spec-dir "$work/build-cdi" build --build-context ubuntu="$rootfs" \
        --progress plain examples/gpu-build >"$out/build.txt" 2>&1; then
    grep -E "preparing device|Generated CDI spec|GPU [0-9]+:" "$out/build.txt"
    grep -q "GPU 0:" "$out/build.txt" || bad "the GPU build printed no GPU"
else
    tail -40 "$out/build.txt"; bad "cdi build of examples/gpu-build"
fi

echo
[ "$failed" = 0 ] && echo "GPU CHECK PASSED" || echo "GPU CHECK FAILED"
exit "$failed"
