"""cdi-runtime's configuration file, and the fast TOML subset reader behind it."""

from __future__ import annotations

import os
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cdi.shim import tomlsubset
from cdi.shim.config import CONFIG_ENV, ConfigError, ShimConfig, load_config
from tables import cases, load_table


def _settings(config: ShimConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in ShimConfig.__slots__ if name != "path"}


@cases("shim/config.yaml")
def test_config(case: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    environ = {CONFIG_ENV: str(path)}
    if "toml" in case:
        path.write_text(case["toml"])
    if "error" in case:
        with pytest.raises(ConfigError) as raised:
            load_config(environ)
        assert str(raised.value) == case["error"].replace("PATH", str(path))
        return
    config = load_config(environ)
    expected = {**_settings(ShimConfig()), **case["expect"]}
    assert _settings(config) == expected
    assert config.path == (str(path) if "toml" in case else None)


def test_trust_defaults_to_strict_for_root_only() -> None:
    from cdi.registry.trust import default_mode

    assert ShimConfig().trust is None  # decided when devices are injected: default_mode()
    assert default_mode() == ("strict" if os.geteuid() == 0 else "off")


def test_spec_dirs_from_the_environment_win() -> None:
    config = ShimConfig()
    config.spec_dirs = ["/from/file"]
    assert config.registry_dirs({"CDI_SPEC_DIRS": "/from/env"}) is None
    assert config.registry_dirs({}) == ["/from/file"]


def test_unreadable_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^error loading config .*: Is a directory$"):
        load_config({CONFIG_ENV: str(tmp_path)})


def test_oversized_config_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"#" * (2 << 20))
    with pytest.raises(ConfigError, match="larger than 1048576 bytes"):
        load_config({CONFIG_ENV: str(path)})


# -- the subset reader agrees with tomllib -----------------------------------------------


def _tomllib(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _check_agrees(text: str) -> None:
    fast = tomlsubset.parse(text)
    if fast is not None:  # None: outside the subset, tomllib reads it
        assert fast == _tomllib(text), text


@pytest.mark.parametrize(
    "case", [c for c in load_table("shim/config.yaml") if "toml" in c], ids=lambda c: c["name"]
)
def test_subset_agrees_on_the_table(case: dict[str, Any]) -> None:
    _check_agrees(case["toml"])


SUBSET_DOCUMENTS = [
    'a = "x"\n',
    "a = 'x'\n",
    "a = true\nb = false\n",
    "a = 1\nb = -2\nc = +3\nd = 0\n",
    'a = ["x", "y"]\n',
    "a = []\n",
    'a = ["x",]\n',
    "a = [1, [2, 3]]\n",
    "[t]\na = 1\n",
    "[t.u]\na = 1\n[t]\nb = 2\n",
    '# c\n\n  a = "x"   # trailing\n',
    "a = true#c\n",
    'a = "with # hash"\n',
    'a = "é"\n',
    "a = 1\r\n",
    "\ta\t=\t1\t\n",
]

NOT_IN_SUBSET = [
    "a = 01\n",  # invalid TOML
    "a = 1_000\n",
    "a = 1.5\n",
    'a = """x"""\n',
    "a = ''\n",  # could open a multi-line string: left to tomllib
    'a = "x\\ty"\n',
    "a.b = 1\n",
    '"a" = 1\n',
    "[[t]]\n",
    "[t]\n[t]\n",
    "a = 1\na = 2\n",
    "a = 1\n[a]\n",
    "a = [\n 1]\n",
    "a = 1 2\n",
    "a = \n",
    "a = x\n",
    "# \x01\n",
    "a = 1\rb = 2\n",
    "[t] x\n",
    "a = { b = 1 }\n",
    "a = 1979-05-27\n",
]


@pytest.mark.parametrize("text", SUBSET_DOCUMENTS)
def test_subset_reads_plain_documents_as_tomllib_does(text: str) -> None:
    assert tomlsubset.parse(text) is not None
    assert tomlsubset.parse(text) == tomllib.loads(text)


@pytest.mark.parametrize("text", NOT_IN_SUBSET)
def test_subset_leaves_everything_else_to_tomllib(text: str) -> None:
    assert tomlsubset.parse(text) is None


def test_subset_agrees_on_random_documents() -> None:
    pieces = [
        "a", "b", "env", "t.u", " ", "\t", "=", '"x"', "'y'", '"#"', "[", "]", ",", "#",
        "true", "false", "1", "-0", "01", "\n", "\r\n", '"\\n"', "[env]", "[[x]]", '""',
    ]  # fmt: skip
    generator = random.Random(13)
    for _ in range(20_000):
        text = "".join(generator.choice(pieces) for _ in range(generator.randint(1, 12)))
        _check_agrees(text)
