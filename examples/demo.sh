#!/bin/sh
# `make demo`: the README's tour end to end with the `cdi` command line.
#
#   1. setup     runc, a static busybox and a C compiler (installed with apt when missing,
#                as root)
#   2. devices   the devices of the example spec directory, examples/cdi/
#   3. validate  the example spec files
#   4. doctor    examples/cdi-doctor/: a broken spec, and what validate and doctor say
#   5. run       a container with vendor1.com/device=foo, which sets FOO=injected
#   5b. runtime  cdi-runtime in front of runc: the device a bundle's annotation asks for,
#                and one that does not resolve
#   6. inspect   the devices a build may use: foo is not allowed automatically
#   7. rootfs    build/rootfs, the busybox root filesystem the builds use as `FROM busybox`
#   8. build     examples/build/Dockerfile asks for the device: refused without --allow
#   9. build     again with --allow device: the step prints FOO=injected; built once
#                more, the step comes from the build cache (CACHED)
#  10. build     with the autoallow annotation (examples/cdi-autoallow/): no --allow needed
#  11-14. a simulated GPU host (no real GPU; needs root and cc): inspect --host-root lists
#           nvidia.com/gpu on demand; the GPU build prepares it, then nvidia-smi -L prints
#           the GPU; built again, the spec is reused (the step runs again: its device
#           request now resolves at load time, a new cache key, as in BuildKit)
#
# Usage: sh examples/demo.sh [VENV_BIN]   (make demo passes .venv/bin, with the package
# already installed in it), from the checkout's top directory. Each command is shown as the
# README shows it ("$ cdi ..."), followed by its output; a test compares the two.
set -eu
bin=${1:-.venv/bin}

# The README's `cdi` is this virtual environment's.
cdi() {
    "$bin/cdi" "$@"
}

python() {
    "$bin/python" "$@"
}

step() {
    printf '\n== %s\n' "$*"
}

# show 'COMMAND': print it as typed, then run it (it must succeed).
show() {
    printf '$ %s\n' "$1"
    eval "$1"
}

# refused 'COMMAND': the same for a command that must fail.
refused() {
    printf '$ %s\n' "$1"
    if eval "$1"; then
        echo "unexpected: the command succeeded" >&2
        exit 1
    fi
}

# -- 1. setup -------------------------------------------------------------------------------
step "1. setup: runc and busybox-static"
# Ask the package itself: it knows where runc lives and which busybox a container can use.
usable() {
    "$bin/python" -c "import cdi.runtime as r; r.$1" 2>/dev/null
}
missing=""
usable 'find_runtime("runc")' || missing="$missing runc"
usable 'find_busybox()' || missing="$missing busybox-static"
can_run=yes
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing:$missing"
        apt-get update -qq
        # shellcheck disable=SC2086  # one word per package
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "missing:$missing; install them as root (apt-get install$missing) to run the container steps"
        can_run=no
    fi
else
    echo "runc and a static busybox are installed"
fi
# The simulated GPU host of steps 11-14 compiles its stand-in NVIDIA library and nvidia-smi.
if ! command -v cc >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: gcc libc6-dev (for the simulated GPU host)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
fi
if [ "$(id -u)" != 0 ]; then
    echo "not root: the container steps need root (try: sudo make demo)"
    can_run=no
fi

# -- 2-4. spec files ------------------------------------------------------------------------
step "2. the devices of examples/cdi/"
show 'cdi --spec-dir examples/cdi devices'

step "3. validate the spec files"
show 'cdi --spec-dir examples/cdi validate'

step "4. a broken spec: validate and doctor say why a device does not resolve"
refused 'cdi --spec-dir examples/cdi-doctor validate'
refused "echo '{}' | cdi --spec-dir examples/cdi-doctor inject - vendor3.com/fpga=fpga0"
refused 'cdi --spec-dir examples/cdi-doctor doctor vendor3.com/fpga=fpga0 vendor2.com/gpu=gpu1'

# -- 5. run ---------------------------------------------------------------------------------
step "5. run a container with vendor1.com/device=foo"
if [ "$can_run" = yes ]; then
    show "cdi --spec-dir examples/cdi run --device vendor1.com/device=foo -- sh -c 'env | grep ^FOO='"
else
    echo "skipped (see step 1)"
fi

# -- 5b. cdi-runtime ------------------------------------------------------------------------
step "5b. cdi-runtime: runc with the devices a bundle's annotations ask for"
if [ "$can_run" = yes ]; then
    # The README's `cdi-runtime` is this virtual environment's (found in PATH, as engines do).
    PATH="$(cd "$bin" && pwd):$PATH"
    show 'python examples/runtime/make_bundle.py build/bundle vendor1.com/device=foo'
    show 'CDI_RUNTIME_CONFIG=examples/runtime/config.toml cdi-runtime --root build/runc run --bundle build/bundle demo'
    show 'python examples/runtime/make_bundle.py build/bundle-bar vendor1.com/device=bar'
    refused 'CDI_RUNTIME_CONFIG=examples/runtime/config.toml cdi-runtime --root build/runc run --bundle build/bundle-bar demo-bar'
else
    echo "skipped (see step 1)"
fi

# -- 6-10. builds ---------------------------------------------------------------------------
# The demo's builds have a cache of their own, emptied first: the first build of each step
# runs it, every time the demo runs.
CDI_BUILD_CACHE="$(pwd)/build/build-cache"
export CDI_BUILD_CACHE
rm -rf "$CDI_BUILD_CACHE"
step "6. inspect: the devices a build may use"
show 'cdi --spec-dir examples/cdi inspect'

if [ "$can_run" = yes ]; then
    step "7. rootfs: the busybox root filesystem for FROM busybox"
    show 'cdi rootfs build/rootfs'

    step "8. build without --allow: refused before any step runs"
    refused 'cdi --spec-dir examples/cdi build --build-context busybox=build/rootfs examples/build'

    step "9. build with --allow device"
    show 'cdi --spec-dir examples/cdi build --build-context busybox=build/rootfs --allow device --progress plain examples/build'

    step "9b. the same build again: its step comes from the build cache"
    show 'cdi --spec-dir examples/cdi build --build-context busybox=build/rootfs --allow device --progress plain examples/build'

    step "10. build with the autoallow annotation, without --allow"
    show 'cdi --spec-dir examples/cdi-autoallow inspect'
    show 'cdi --spec-dir examples/cdi-autoallow build --build-context busybox=build/rootfs --progress plain examples/build'
else
    step "7-10. rootfs and builds"
    echo "skipped (see step 1)"
fi

# -- 11-14. Simulated GPU host -------------------------------------------------------------
# The tutorial's GPU part on a host that only pretends to have an NVIDIA GPU: no GPU, no
# driver. examples/gpu-host/make_host.py lays out a driver install with stand-ins for NVML
# and nvidia-smi; `--host-root` points inspect and build at it instead of /.
step "11. Simulated GPU host (no real GPU): a fake NVIDIA driver install in build/gpu"
if [ "$can_run" != yes ]; then
    echo "skipped (see step 1)"
elif ! command -v cc >/dev/null 2>&1; then
    echo "skipped: the simulated GPU host needs a C compiler (apt-get install gcc libc6-dev)"
else
    show 'python examples/gpu-host/make_host.py build/gpu'

    step "12. Simulated GPU host: inspect lists nvidia.com/gpu as on demand"
    show 'cdi --spec-dir build/gpu/cdi inspect --host-root build/gpu/host'

    step "13. Simulated GPU host: the GPU build prepares the device, then runs nvidia-smi -L"
    show 'cat examples/gpu-build/Dockerfile'
    show 'cdi --spec-dir build/gpu/cdi build --host-root build/gpu/host --build-context ubuntu=build/gpu/ubuntu --progress plain examples/gpu-build'

    step "14. Simulated GPU host: built again, the generated spec is reused"
    show 'cdi --spec-dir build/gpu/cdi inspect --host-root build/gpu/host'
    show 'cdi --spec-dir build/gpu/cdi build --host-root build/gpu/host --build-context ubuntu=build/gpu/ubuntu --progress plain examples/gpu-build'
fi
