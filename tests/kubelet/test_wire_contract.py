"""The generated wire modules state the kubelet's contract as the reference lists it.

``tests/vectors/kubelet/wire.yaml`` is a transcription of the reference, made without looking
at our ``.proto`` files; this test reads what ``cdi.kubelet.wire.*_pb2`` were compiled from
(their serialized ``FileDescriptorProto``) and the stubs and servicer registrations of the
``*_pb2_grpc`` modules, and compares. A misspelt field, a wrong number, a lost ``repeated``
or ``optional``, a renamed package or a streaming flag gone astray fails here.
"""

from __future__ import annotations

import importlib
from typing import Any

from google.protobuf import descriptor_pb2

from tables import cases, load_table

FieldProto = descriptor_pb2.FieldDescriptorProto

#: Scalar types the contract uses, by their descriptor enum.
SCALARS = {
    FieldProto.TYPE_STRING: "string",
    FieldProto.TYPE_BOOL: "bool",
    FieldProto.TYPE_INT32: "int32",
    FieldProto.TYPE_INT64: "int64",
}


def _file(case: dict[str, Any]) -> descriptor_pb2.FileDescriptorProto:
    module = importlib.import_module(case["module"])
    return descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)


def _local(type_name: str, package: str) -> str:
    prefix = f".{package}."
    assert type_name.startswith(prefix), f"{type_name} is not in package {package}"
    return type_name[len(prefix) :]


def _type(field: Any, package: str) -> str:
    if field.type == FieldProto.TYPE_MESSAGE:
        return _local(field.type_name, package)
    assert field.type in SCALARS, f"{field.name}: a type outside the contract ({field.type})"
    return SCALARS[field.type]


def _describe(message: Any, package: str) -> dict[str, str]:
    entries = {nested.name: nested for nested in message.nested_type}
    described: dict[str, str] = {}
    for field in message.field:
        words = [str(field.number)]
        entry_name = field.type_name.rpartition(".")[2]
        entry = entries.get(entry_name)
        if entry is not None and entry.options.map_entry:
            key, value = entry.field
            words.append(f"map<{_type(key, package)}, {_type(value, package)}>")
        else:
            if field.label == FieldProto.LABEL_REPEATED:
                words.append("repeated")
            elif field.proto3_optional:
                words.append("optional")
            words.append(_type(field, package))
        described[field.name] = " ".join(words)
    return described


@cases("kubelet/wire.yaml")
def test_file_and_package(case: dict[str, Any]) -> None:
    proto = _file(case)
    assert proto.name == case["file"]
    assert proto.package == case["package"]
    assert proto.syntax == "proto3"
    assert list(proto.dependency) == []  # no imports: the kubelet's files have none either
    assert list(proto.enum_type) == []


@cases("kubelet/wire.yaml")
def test_messages(case: dict[str, Any]) -> None:
    proto = _file(case)
    found = {message.name: message for message in proto.message_type}
    assert sorted(found) == sorted(case["messages"])
    for name, expected in case["messages"].items():
        message = found[name]
        nested = [item.name for item in message.nested_type if not item.options.map_entry]
        assert nested == [], f"{name}: nested messages outside the contract"
        assert list(message.enum_type) == []
        assert _describe(message, proto.package) == expected, name


@cases("kubelet/wire.yaml")
def test_services(case: dict[str, Any]) -> None:
    proto = _file(case)
    found: dict[str, str] = {}
    for service in proto.service:
        for method in service.method:
            path = f"/{proto.package}.{service.name}/{method.name}"
            request = ("stream " if method.client_streaming else "") + _local(
                method.input_type, proto.package
            )
            response = ("stream " if method.server_streaming else "") + _local(
                method.output_type, proto.package
            )
            found[path] = f"{request} -> {response}"
    assert found == case["methods"]


class RecordingChannel:
    """Takes the place of a grpc channel: records the paths and kinds stubs ask for."""

    def __init__(self) -> None:
        self.calls: dict[str, str] = {}

    def _record(self, kind: str) -> Any:
        def make(path: str, *args: Any, **kwargs: Any) -> object:
            self.calls[path] = kind
            return object()

        return make

    def __getattr__(self, kind: str) -> Any:
        if kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
            return self._record(kind)
        raise AttributeError(kind)


class RecordingServer:
    """Takes the place of a grpc server: records the handlers a servicer registers."""

    def __init__(self) -> None:
        self.handlers: dict[str, str] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        for method, handler in handlers.items():
            streams = ("stream" if handler.request_streaming else "unary") + "_"
            streams += "stream" if handler.response_streaming else "unary"
            self.handlers[f"/{service}/{method}"] = streams


def _kinds(case: dict[str, Any]) -> dict[str, str]:
    """The grpc call kind (unary_stream, ...) of every method of *case*."""
    kinds = {}
    for path, signature in case["methods"].items():
        request, _arrow, response = signature.partition(" -> ")
        kinds[path] = (
            ("stream" if request.startswith("stream ") else "unary")
            + "_"
            + ("stream" if response.startswith("stream ") else "unary")
        )
    return kinds


@cases("kubelet/wire.yaml")
def test_stubs_and_servicers(case: dict[str, Any]) -> None:
    stubs = importlib.import_module(case["module"] + "_grpc")
    proto = _file(case)
    channel, server = RecordingChannel(), RecordingServer()
    for service in proto.service:
        getattr(stubs, f"{service.name}Stub")(channel)
        servicer = getattr(stubs, f"{service.name}Servicer")()
        getattr(stubs, f"add_{service.name}Servicer_to_server")(servicer, server)
    assert channel.calls == _kinds(case)
    assert server.handlers == _kinds(case)


def test_the_table_covers_every_generated_module() -> None:
    from cdi.kubelet.wire.generate import PROTOS

    modules = {case["module"] for case in load_table("kubelet/wire.yaml")}
    assert modules == {f"cdi.kubelet.wire.{name.removesuffix('.proto')}_pb2" for name in PROTOS}


def test_the_streamed_method_is_the_one_the_reference_names() -> None:
    """ListAndWatch (§2.1: a server stream) is the only streamed call of the contract."""
    streamed = [
        path
        for case in load_table("kubelet/wire.yaml")
        for path, kind in _kinds(case).items()
        if kind != "unary_unary"
    ]
    assert streamed == ["/v1beta1.DevicePlugin/ListAndWatch"]
