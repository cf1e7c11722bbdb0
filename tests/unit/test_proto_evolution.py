"""The evolution check fails on renumbered, retyped, renamed or silently removed released fields."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "protos_build", ROOT / "libs/protos/protos_build.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()


@pytest.fixture(scope="module")
def fds() -> descriptor_pb2.FileDescriptorSet:
    result: descriptor_pb2.FileDescriptorSet = build.descriptor_set()
    return result


@pytest.fixture(scope="module")
def released() -> dict[str, dict[str, dict[str, object]]]:
    result: dict[str, dict[str, dict[str, object]]] = json.loads(
        (ROOT / "protos" / "released.json").read_text()
    )
    return result


def _message(fds: descriptor_pb2.FileDescriptorSet, name: str) -> descriptor_pb2.DescriptorProto:
    package, _, short = name.rpartition(".")
    for f in fds.file:
        if f.package == package:
            for m in f.message_type:
                if m.name == short:
                    return m
    raise KeyError(name)


def _field(msg: descriptor_pb2.DescriptorProto, name: str) -> descriptor_pb2.FieldDescriptorProto:
    return next(f for f in msg.field if f.name == name)


POSITION = "trackstream.tracking.v1.PositionReported"


def test_the_current_protos_pass(fds: descriptor_pb2.FileDescriptorSet) -> None:
    build.check(fds)


def test_every_released_message_is_on_record(released: dict[str, object]) -> None:
    assert POSITION in released
    assert "trackstream.tracking.v1.CommandResult" in released


def test_renumbering_fails(fds: descriptor_pb2.FileDescriptorSet, released: dict) -> None:
    changed = copy.deepcopy(fds)
    _field(_message(changed, POSITION), "device_id").number = 99
    errors = build.evolution_errors(released, changed)
    assert any("device_id (= 1): renumbered to 99" in e for e in errors), errors


def test_retyping_fails(fds: descriptor_pb2.FileDescriptorSet, released: dict) -> None:
    changed = copy.deepcopy(fds)
    _field(
        _message(changed, POSITION), "archived"
    ).type = descriptor_pb2.FieldDescriptorProto.TYPE_INT32
    errors = build.evolution_errors(released, changed)
    assert any("archived (= 5): type changed from TYPE_BOOL to TYPE_INT32" in e for e in errors)


def test_removal_needs_reserved_number_and_name(
    fds: descriptor_pb2.FileDescriptorSet,
    released: dict,
) -> None:
    changed = copy.deepcopy(fds)
    msg = _message(changed, POSITION)
    kept = [f for f in msg.field if f.name != "rssi"]
    del msg.field[:]
    msg.field.extend(kept)
    assert any("rssi (= 10): removed" in e for e in build.evolution_errors(released, changed))

    msg.reserved_range.add(start=10, end=11)
    msg.reserved_name.append("rssi")
    assert build.evolution_errors(released, changed) == []


def test_renaming_fails(fds: descriptor_pb2.FileDescriptorSet, released: dict) -> None:
    changed = copy.deepcopy(fds)
    _field(_message(changed, POSITION), "archived").name = "is_archived"
    errors = build.evolution_errors(released, changed)
    assert any("archived (= 5): renamed to is_archived" in e for e in errors), errors


def test_adding_a_field_is_allowed(fds: descriptor_pb2.FileDescriptorSet, released: dict) -> None:
    changed = copy.deepcopy(fds)
    _message(changed, POSITION).field.add(
        name="new_thing", number=40, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    )
    assert build.evolution_errors(released, changed) == []


def test_an_unclassified_field_fails(fds: descriptor_pb2.FileDescriptorSet) -> None:
    changed = copy.deepcopy(fds)
    _message(changed, POSITION).field.add(
        name="plate", number=41, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    )
    with pytest.raises(build.EvolutionError, match=r"PositionReported\.plate: no"):
        build.check(changed)
