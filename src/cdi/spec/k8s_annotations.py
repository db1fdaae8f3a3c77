"""The Kubernetes annotation rules the reference intends for spec annotations (strict mode).

The reference only runs these on its schema-validation path (and never for specs loaded
through its library), so loading does not apply them by default; ``strict=True`` does.
Messages follow the Kubernetes validation texts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

TOTAL_SIZE_LIMIT = 256 * 1024
_NAME_MAX = 63
_SUBDOMAIN_MAX = 253
_NAME_FORMAT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME = re.compile(_NAME_FORMAT)
_LABEL_FORMAT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FORMAT = _LABEL_FORMAT + "(\\." + _LABEL_FORMAT + ")*"
_SUBDOMAIN = re.compile(_SUBDOMAIN_FORMAT)

_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)


def _regex_error(message: str, pattern: str, *examples: str) -> str:
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{pattern}')"


def qualified_name_problems(value: str) -> list[str]:
    """Kubernetes ``IsQualifiedName``: ``[prefix/]name``."""
    problems: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + _regex_error(_NAME_MESSAGE, _NAME_FORMAT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            if len(prefix) > _SUBDOMAIN_MAX:
                problems.append(f"prefix part must be no more than {_SUBDOMAIN_MAX} characters")
            if not _SUBDOMAIN.fullmatch(prefix):
                problems.append(
                    "prefix part "
                    + _regex_error(_SUBDOMAIN_MESSAGE, _SUBDOMAIN_FORMAT, "example.com")
                )
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > _NAME_MAX:
        problems.append(f"name part must be no more than {_NAME_MAX} characters")
    if not _NAME.fullmatch(name):
        problems.append(
            "name part " + _regex_error(_NAME_MESSAGE, _NAME_FORMAT, "MyName", "my.name", "123-abc")
        )
    return problems


def annotation_problems(annotations: Mapping[str, str], where: str) -> list[str]:
    """Every broken rule, each as ``<where>.<key> is invalid: <why>``, then the size limit."""
    problems = [
        f"{where}.{key} is invalid: {problem}"
        for key in annotations
        for problem in qualified_name_problems(key.lower())
    ]
    size = sum(len(key.encode()) + len(value.encode()) for key, value in annotations.items())
    if size > TOTAL_SIZE_LIMIT:
        problems.append(
            f"{where} is too long: annotations size {size} is larger than limit {TOTAL_SIZE_LIMIT}"
        )
    return problems
