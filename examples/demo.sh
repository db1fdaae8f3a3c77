#!/bin/sh
# `make demo`: the CDI tutorial end to end with the `cdi` command line.
#
#   1. setup     runc and a static busybox (installed with apt when missing, as root)
#   2. devices   the devices of the example spec directory, examples/cdi/
#   3. validate  the example spec files
#   4. run       a container with vendor1.com/device=foo, which sets FOO=injected
#   5. inspect   the devices a build may use: foo is not allowed automatically
#   6. build     examples/build/Dockerfile asks for the device: refused without --allow
#   7. build     again with --allow device: the step prints FOO=injected
#   8. build     with the autoallow annotation (examples/cdi-autoallow/): no --allow needed
#
# Usage: sh examples/demo.sh [VENV_BIN]   (make demo passes .venv/bin, with the package
# already installed in it). Each section is independent of the ones after it.
set -eu
bin=${1:-.venv/bin}
specs=examples/cdi
cdi="$bin/cdi --spec-dir $specs"

step() {
    printf '\n== %s\n' "$*"
}

show() {
    printf '$ %s\n' "$*"
    "$@"
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
        echo "missing:$missing; install them as root (apt-get install$missing) to run the container step"
        can_run=no
    fi
else
    echo "runc and a static busybox are installed"
fi
if [ "$(id -u)" != 0 ]; then
    echo "not root: the container step needs root (try: sudo make demo)"
    can_run=no
fi

# -- 2. devices -----------------------------------------------------------------------------
step "2. the devices of $specs/"
show $cdi devices

# -- 3. validate ----------------------------------------------------------------------------
step "3. validate the spec files"
show $cdi validate

# -- 4. run ---------------------------------------------------------------------------------
step "4. run a container with vendor1.com/device=foo"
if [ "$can_run" = yes ]; then
    echo "\$ $cdi run --device vendor1.com/device=foo -- sh -c 'env | grep ^FOO='"
    $cdi run --device vendor1.com/device=foo -- sh -c 'env | grep ^FOO='
else
    echo "skipped (see step 1)"
fi

# -- 5-8. builds ----------------------------------------------------------------------------
step "5. inspect: the devices a build may use"
show $cdi inspect

if [ "$can_run" = yes ]; then
    # The Dockerfile's `FROM busybox` comes from a build context: a busybox root filesystem.
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    "$bin/python" -c "import cdi.runtime as r, sys; r.make_busybox_rootfs(sys.argv[1])" "$rootfs"
    build="build --build-context busybox=$rootfs --progress plain examples/build"

    step "6. build without --allow: refused before any step runs"
    echo "\$ $cdi $build"
    if $cdi $build; then
        echo "unexpected: the build was not refused" >&2
        exit 1
    fi

    step "7. build with --allow device"
    echo "\$ $cdi $build --allow device"
    $cdi $build --allow device

    step "8. build with the autoallow annotation, without --allow"
    auto="$bin/cdi --spec-dir examples/cdi-autoallow"
    show $auto inspect
    echo "\$ $auto $build"
    $auto $build
else
    step "6-8. builds"
    echo "skipped (see step 1)"
fi
