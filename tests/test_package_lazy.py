"""``import cdi`` is cheap: the public names load on first use and stay the same objects."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cdi


def _modules_after(code: str) -> set[str]:
    listing = "import sys; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{listing}"], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_import_cdi_loads_no_submodule() -> None:
    loaded = _modules_after("import cdi")
    # cdi.lazy is the lazy-export mechanism itself (a few lines, importlib only).
    assert sorted(m for m in loaded if m.startswith("cdi.")) == ["cdi.lazy"]
    assert "yaml" not in loaded


def test_a_name_loads_only_its_module() -> None:
    loaded = _modules_after("import cdi; cdi.parse_qualified_name")
    assert "cdi.names" in loaded
    assert "cdi.registry" not in loaded
    assert "yaml" not in loaded


@pytest.mark.parametrize("name", cdi.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(cdi, name)
    assert value is not None
    assert name in dir(cdi)


def test_star_import_gives_the_exports() -> None:
    namespace: dict[str, object] = {}
    exec("from cdi import *", namespace)
    assert set(cdi.__all__) <= set(namespace)
    assert namespace["Registry"] is cdi.Registry


def test_inject_is_the_function() -> None:
    from cdi.injection import inject

    assert cdi.inject is inject


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="module 'cdi' has no attribute 'nope'"):
        cdi.nope  # type: ignore[attr-defined]  # noqa: B018


def test_version_is_there_without_loading_anything() -> None:
    assert cdi.__version__ == "0.1.0"
