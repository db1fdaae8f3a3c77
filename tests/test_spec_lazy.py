"""``cdi.spec`` loads its parts on first use: the model alone does not bring in the parser."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cdi.spec


def _modules_after(code: str) -> set[str]:
    listing = "import sys; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{listing}"], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_the_model_alone_loads_no_other_spec_module() -> None:
    loaded = _modules_after("import cdi.spec.model")
    assert sorted(m for m in loaded if m.startswith("cdi.spec.")) == [
        "cdi.spec.model",
        "cdi.spec.record",
    ]


def test_a_name_loads_its_module() -> None:
    loaded = _modules_after("import cdi.spec; cdi.spec.minimum_version")
    assert "cdi.spec.version" in loaded
    assert "cdi.spec.load" not in loaded


@pytest.mark.parametrize("name", cdi.spec.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(cdi.spec, name) is not None
    assert name in dir(cdi.spec)


def test_names_are_the_defining_modules_objects() -> None:
    from cdi.spec.load import parse_spec
    from cdi.spec.model import Spec

    assert cdi.spec.parse_spec is parse_spec
    assert cdi.spec.Spec is Spec


def test_submodules_still_import_from_the_package() -> None:
    from cdi.spec import record, yaml11

    assert record.replace is cdi.spec.record.replace
    assert yaml11.__name__ == "cdi.spec.yaml11"


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match=r"module 'cdi\.spec' has no attribute 'nope'"):
        cdi.spec.nope  # type: ignore[attr-defined]  # noqa: B018
