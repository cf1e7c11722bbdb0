"""Build the protobuf/gRPC Python code from ``protos/`` and guard the evolution rules.

    python libs/protos/protos_build.py generate   # protos/ -> libs/protos/src (git-ignored)
    python libs/protos/protos_build.py check      # evolution and classification rules
    python libs/protos/protos_build.py release    # record today's fields as released

``protos/released.json`` is the committed record of every field that has been released: message,
field name, number, type and label. ``check`` fails when a released field was renumbered, retyped,
relabelled, renamed or removed without ``reserved``, and when any field lacks a
``(trackstream.options.v1.personal_data)`` classification. The rules are in docs/events.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
OUT = Path(__file__).resolve().parent / "src"
RELEASED = PROTOS / "released.json"
OPTION_PACKAGE = "trackstream.options.v1"
PERSONAL_DATA_FIELD_OPTION = 50001

FieldRecord = dict[str, str | int]
Snapshot = dict[str, dict[str, FieldRecord]]


class EvolutionError(Exception):
    """The protos break a rule in docs/events.md; the message lists every violation."""


def proto_files() -> list[Path]:
    return sorted(PROTOS.rglob("*.proto"))


def _protoc(*args: str) -> None:
    import grpc_tools  # the build tool; imported here so `check` can reuse a descriptor set

    include = Path(grpc_tools.__file__).parent / "_proto"
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"-I{include}", *args]
    cmd += [str(p.relative_to(PROTOS)) for p in proto_files()]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=PROTOS)
    if result.returncode != 0:
        raise EvolutionError(f"protoc failed:\n{result.stderr.strip()}")


def generate() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    _protoc(
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={OUT}",
        f"--mypy_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_grpc_out={OUT}",
    )
    # Regular packages (not namespace packages), so mypy and importlib see one tree.
    for folder in (OUT / "trackstream").rglob("*"):
        if folder.is_dir():
            (folder / "__init__.py").touch()
    (OUT / "trackstream" / "__init__.py").touch()
    (OUT / "trackstream" / "py.typed").touch()


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.binpb"
        _protoc(f"--descriptor_set_out={out}", "--include_source_info")
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(out.read_bytes())
        return fds


def _messages(
    prefix: str, messages: list[descriptor_pb2.DescriptorProto]
) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
    for msg in messages:
        name = f"{prefix}.{msg.name}"
        yield name, msg
        if not msg.options.map_entry:
            yield from _messages(name, list(msg.nested_type))


def own_messages(
    fds: descriptor_pb2.FileDescriptorSet,
) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
    for f in fds.file:
        if f.package.startswith("trackstream.") and f.package != OPTION_PACKAGE:
            yield from _messages(f.package, list(f.message_type))


def _type_name(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.type_name:
        return field.type_name.lstrip(".")
    return descriptor_pb2.FieldDescriptorProto.Type.Name(field.type)


def snapshot(fds: descriptor_pb2.FileDescriptorSet) -> Snapshot:
    snap: Snapshot = {}
    for name, msg in own_messages(fds):
        if msg.options.map_entry:
            continue
        snap[name] = {
            f.name: {
                "number": f.number,
                "type": _type_name(f),
                "label": descriptor_pb2.FieldDescriptorProto.Label.Name(f.label),
            }
            for f in msg.field
        }
    return snap


def _classification_errors(fds: descriptor_pb2.FileDescriptorSet) -> list[str]:
    errors = []
    for name, msg in own_messages(fds):
        if msg.options.map_entry:
            continue
        for f in msg.field:
            # Custom options arrive as unknown fields of FieldOptions when the extension module is
            # not imported; reading the serialized options keeps this check dependency-free.
            raw = f.options.SerializeToString()
            if not _has_nonzero_varint(raw, PERSONAL_DATA_FIELD_OPTION):
                errors.append(f"{name}.{f.name}: no (trackstream.options.v1.personal_data)")
    return errors


def _has_nonzero_varint(raw: bytes, field_number: int) -> bool:
    """Whether a serialized message has a varint field ``field_number`` with a non-zero value."""
    pos = 0
    while pos < len(raw):
        key, pos = _varint(raw, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(raw, pos)
            if number == field_number and value != 0:
                return True
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(raw, pos)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            return False
    return False


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = raw[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _reserved(msg: descriptor_pb2.DescriptorProto, number: int, name: str) -> bool:
    in_range = any(r.start <= number < r.end for r in msg.reserved_range)
    return in_range and name in msg.reserved_name


def evolution_errors(released: Snapshot, fds: descriptor_pb2.FileDescriptorSet) -> list[str]:
    current = dict(own_messages(fds))
    errors: list[str] = []
    for msg_name, fields in released.items():
        msg = current.get(msg_name)
        if msg is None:
            errors.append(f"{msg_name}: released message removed (create a new major version)")
            continue
        by_number = {f.number: f for f in msg.field}
        by_name = {f.name: f for f in msg.field}
        for field_name, rec in fields.items():
            number = int(rec["number"])
            where = f"{msg_name}.{field_name} (= {number})"
            f = by_number.get(number)
            if f is None:
                if field_name in by_name:
                    errors.append(f"{where}: renumbered to {by_name[field_name].number}")
                elif not _reserved(msg, number, field_name):
                    errors.append(f"{where}: removed without reserving its number and name")
                continue
            if f.name != field_name:
                errors.append(f"{where}: renamed to {f.name} (renames go to a new major version)")
            if _type_name(f) != rec["type"]:
                errors.append(f"{where}: type changed from {rec['type']} to {_type_name(f)}")
            label = descriptor_pb2.FieldDescriptorProto.Label.Name(f.label)
            if label != rec["label"]:
                errors.append(f"{where}: label changed from {rec['label']} to {label}")
    return errors


def check(fds: descriptor_pb2.FileDescriptorSet | None = None) -> None:
    fds = fds or descriptor_set()
    released: Snapshot = json.loads(RELEASED.read_text()) if RELEASED.exists() else {}
    errors = _classification_errors(fds) + evolution_errors(released, fds)
    if errors:
        raise EvolutionError("protos break the evolution rules:\n  " + "\n  ".join(errors))


def release() -> None:
    """Record the current fields as released; refuses when that would drop released fields."""
    fds = descriptor_set()
    check(fds)
    released: Snapshot = json.loads(RELEASED.read_text()) if RELEASED.exists() else {}
    merged = snapshot(fds)
    for msg_name, fields in released.items():  # reserved fields stay on record
        for field_name, rec in fields.items():
            merged.setdefault(msg_name, {}).setdefault(field_name, rec)
    RELEASED.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def main(argv: list[str]) -> int:
    actions = {"generate": generate, "check": check, "release": release}
    if len(argv) != 1 or argv[0] not in actions:
        print(f"usage: protos_build.py {{{'|'.join(actions)}}}", file=sys.stderr)
        return 2
    try:
        actions[argv[0]]()
    except EvolutionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
