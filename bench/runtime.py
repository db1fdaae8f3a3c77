"""cdi-runtime in front of runc, against bare runc in the same run.

For each case, ``--runs`` interleaved runs each way; medians and the shim's overhead in ms:

- ``run``: ``run --bundle B ID`` of busybox ``true``. The shim's bundle requests
  ``vendor1.com/device=foo`` by annotation, among ``--specs`` other spec files (the
  ``specgen.py`` mix, JSON) in the spec directory, from a warm registry index; it is reset to
  the un-injected ``config.json`` before each run (not timed). Bare runc runs the bundle the
  shim produces, so both start the same container.
- ``state``: of a created container (pass-through: no library import, no bundle).
- ``delete``: of a created container (created before each run, not timed).

Needs root, runc and a static busybox (as the e2e tests do).

    .venv/bin/python bench/runtime.py [--runs 30] [--specs 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from cdi.runtime import default_oci_spec, find_runtime, make_busybox_rootfs
from cdi.runtime.runc import bundle_config
from specgen import generate

ROOT = Path(__file__).resolve().parent.parent
SHIM = str(Path(sys.executable).with_name("cdi-runtime"))
DEVICE = "vendor1.com/device=foo"


def _run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, check=True, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--specs", type=int, default=1000)
    args = parser.parse_args()
    runc = find_runtime("runc")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec_dir = work / "cdi"
        generate(spec_dir, args.specs, "json")
        shutil.copy(ROOT / "examples" / "cdi" / "vendor1.yaml", spec_dir)
        (work / "index").mkdir(mode=0o700)
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CDI_SPEC_DIRS": str(spec_dir),
            "CDI_INDEX_DIR": str(work / "index"),
            "CDI_RUNTIME_CONFIG": str(work / "runtime.toml"),  # not there: the defaults
        }
        state = str(work / "state")
        rootfs = make_busybox_rootfs(work / "rootfs")
        original = bundle_config(default_oci_spec(["true"]), str(rootfs))
        original["annotations"] = {"cdi.k8s.io/bench": DEVICE}
        shim_bundle, bare_bundle = work / "shim", work / "bare"
        shim_bundle.mkdir()
        bare_bundle.mkdir()
        original_text = json.dumps(original)
        (shim_bundle / "config.json").write_text(original_text)
        time.sleep(0.1)  # past the racy window, as spec files on a real host are
        _run([SHIM, "--root", state, "run", "--bundle", str(shim_bundle), "warm"], env)
        _run([runc, "--root", state, "delete", "--force", "warm"], env)
        injected = (shim_bundle / "config.json").read_text()
        assert injected != original_text, "the shim injected nothing"
        (bare_bundle / "config.json").write_text(injected)

        def run_with(binary: str, bundle: Path) -> Callable[[], None]:
            def action() -> None:
                name = f"bench-{uuid.uuid4().hex[:12]}"
                _run([binary, "--root", state, "run", "--bundle", str(bundle), name], env)

            return action

        def reset() -> None:
            (shim_bundle / "config.json").write_text(original_text)

        parked = f"bench-state-{uuid.uuid4().hex[:8]}"
        _run([runc, "--root", state, "create", "--bundle", str(bare_bundle), parked], env)

        def state_with(binary: str) -> Callable[[], None]:
            return lambda: _run([binary, "--root", state, "state", parked], env)

        def delete_with(binary: str) -> tuple[Callable[[], None], Callable[[], None]]:
            name = f"bench-del-{uuid.uuid4().hex[:12]}"

            def prepare() -> None:
                _run([runc, "--root", state, "create", "--bundle", str(bare_bundle), name], env)

            return prepare, lambda: _run([binary, "--root", state, "delete", name], env)

        cases: dict[str, dict[str, Callable[[], None]]] = {
            "run": {
                "runc": run_with(runc, bare_bundle),
                "cdi-runtime": run_with(SHIM, shim_bundle),
            },
            "state": {"runc": state_with(runc), "cdi-runtime": state_with(SHIM)},
        }
        samples: dict[str, dict[str, list[float]]] = {
            case: {"runc": [], "cdi-runtime": []} for case in (*cases, "delete")
        }
        try:
            for _ in range(args.runs):
                for case, ways in cases.items():
                    for way, action in ways.items():
                        if case == "run" and way == "cdi-runtime":
                            reset()
                        samples[case][way].append(_timed(action))
                for way, binary in (("runc", runc), ("cdi-runtime", SHIM)):
                    prepare, delete = delete_with(binary)
                    prepare()
                    samples["delete"][way].append(_timed(delete))
        finally:
            subprocess.run([runc, "--root", state, "delete", "--force", parked], check=False)
    print(f"{args.runs} interleaved runs each, {args.specs + 1} spec files, medians")
    print(f"{'command':<8} {'runc ms':>9} {'cdi-runtime ms':>15} {'overhead ms':>12} {'ratio':>7}")
    for case, ways in samples.items():
        bare, shim = statistics.median(ways["runc"]), statistics.median(ways["cdi-runtime"])
        print(f"{case:<8} {bare:>9.1f} {shim:>15.1f} {shim - bare:>+12.1f} {shim / bare:>6.2f}x")


if __name__ == "__main__":
    main()
