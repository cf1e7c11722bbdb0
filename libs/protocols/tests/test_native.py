"""The C extension is built, used, answers the usual frames itself, and owns its references.

CI proof that the native hot paths run: :func:`test_the_extension_is_built_and_used` fails
whenever ``trackstream_protocols._native`` was not compiled (always, not only under CI: every
``make setup`` builds it, so a pure-Python fallback is never silent). Behaviour against the
pure-Python code: test_native_differential.py.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import tracemalloc
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trackstream_protocols
from libs.protocols.tests import gt06_frames as G
from libs.protocols.tests import jt808_frames as J
from libs.protocols.tests.generated_frames import gt06_locations, jt808_locations
from trackstream_protocols import gt06, jt808, native
from trackstream_protocols.crc import crc16_x25
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.gt06 import decoder as gt06_decoder
from trackstream_protocols.gt06.messages import Gt06Location
from trackstream_protocols.jt808.location import CHINA_STANDARD_TIME
from trackstream_protocols.jt808.messages import AdditionalInfo, Location
from trackstream_protocols.model import Fix
from trackstream_protocols.network import CellTower

NATIVE_GT06_PROTOCOLS = (0x10, 0x11, 0x12, 0x22, 0x2D, 0x31, 0xA0)


def extension() -> object:
    assert native.extension is not None, native.UNAVAILABLE_REASON
    return native.extension


def test_the_extension_is_built_and_used() -> None:
    assert native.available(), f"C extension not built: {native.UNAVAILABLE_REASON}"
    assert native.CODEC == "native"
    assert native.extension is not None
    assert native.extension.ABI_VERSION == native.ABI_VERSION
    assert gt06.decode is native.extension.gt06_decode
    assert gt06.decode is not gt06_decoder.decode_python
    assert gt06.Gt06FrameSplitter()._native_scan is native.extension.gt06_scan
    assert jt808.Jt808FrameSplitter()._native_split is native.extension.jt808_split
    assert jt808.Jt808Decoder()._native_decode is native.extension.jt808_decode
    # and the pure-Python code stays reachable, as the oracle
    assert gt06.Gt06FrameSplitter(native=False)._native_scan is None
    assert jt808.Jt808FrameSplitter(native=False)._native_split is None
    assert jt808.Jt808Decoder(native=False)._native_decode is None


def test_a_stale_build_is_refused_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = types.ModuleType("trackstream_protocols._native")
    stale.ABI_VERSION = native.ABI_VERSION - 1  # type: ignore[attr-defined]
    stale.__file__ = "/old/_native.so"
    monkeypatch.setitem(sys.modules, "trackstream_protocols._native", stale)
    monkeypatch.setattr(trackstream_protocols, "_native", stale)
    spec = importlib.util.spec_from_file_location("native_under_test", native.__file__)
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    assert fresh.extension is None
    assert not fresh.available()
    assert fresh.CODEC == "python"
    assert "/old/_native.so" in fresh.UNAVAILABLE_REASON
    assert "make setup" in fresh.UNAVAILABLE_REASON


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_crc16_x25_in_c_equals_the_python_one(data: bytes) -> None:
    assert native.extension is not None
    assert native.extension.crc16_x25(data) == crc16_x25(data)
    assert native.extension.crc16_x25(b"123456789") == 0x906E


def refuse(*args: object, **kwargs: object) -> object:
    raise AssertionError("the C decoder handed a usual frame to the Python one")


@contextmanager
def gt06_fallback(fallback: Callable[..., object]) -> Iterator[None]:
    assert native.extension is not None
    bind = native.extension.gt06_bind
    bind(gt06.Gt06Frame, Gt06Location, Fix, CellTower, fallback)
    try:
        yield
    finally:
        bind(gt06.Gt06Frame, Gt06Location, Fix, CellTower, gt06_decoder.decode_python)


def usual_gt06_frames() -> list[gt06.Gt06Frame]:
    frames = gt06.Gt06FrameSplitter().feed(b"".join(gt06_locations(20)))
    for hex_text in G.ALL:
        frame = gt06.parse_frame(G.frame_bytes(hex_text))
        if frame.protocol in NATIVE_GT06_PROTOCOLS:
            try:
                gt06_decoder.decode_python(frame)
            except ProtocolError:
                continue  # a truncated capture: the Python decoder's to report
            frames.append(frame)
    return frames


def test_the_c_decoders_answer_the_usual_frames_themselves() -> None:
    frames = usual_gt06_frames()
    # the real captures of these types include a few the C code hands back (e.g. truncated)
    assert len(frames) >= 30
    expected = [gt06_decoder.decode_python(frame) for frame in frames]
    answered = 0
    with gt06_fallback(refuse):
        for frame, want in zip(frames, expected, strict=True):
            try:
                got = gt06.decode(frame)
            except AssertionError:
                continue
            assert got == want and repr(got) == repr(want)
            answered += 1
    assert answered >= 28

    assert native.extension is not None
    jt808_frames = jt808.Jt808FrameSplitter().feed(b"".join(jt808_locations(20)))
    assert len(jt808_frames) == 20
    python = jt808.Jt808Decoder(native=False)
    for jt808_frame in jt808_frames:
        packet = native.extension.jt808_decode(jt808_frame, CHINA_STANDARD_TIME, True, True, False)
        expected_packet = python.decode(jt808_frame)
        assert packet is not None
        assert packet == expected_packet and repr(packet) == repr(expected_packet)
    # Jimi dashcam reports: the C decoder calls the Python code for the 0xE8/0xEB items only
    jimi = [J.LOCATION_EB_BATTERY, J.LOCATION_EB_REMOVING, J.LOCATION_LOW_BATTERY_REMOVING]
    for hex_text in jimi:
        (jt808_frame,) = jt808.Jt808FrameSplitter(keep_bad_checksum=True).feed(J.raw(hex_text))
        packet = native.extension.jt808_decode(jt808_frame, CHINA_STANDARD_TIME, True, True, False)
        expected_packet = python.decode(jt808_frame)
        assert packet is not None
        assert packet == expected_packet and repr(packet) == repr(expected_packet)


def test_gt06_bind_refuses_a_class_it_cannot_build() -> None:
    assert native.extension is not None

    class Plain:
        pass

    with pytest.raises(TypeError):
        native.extension.gt06_bind(Plain, Gt06Location, Fix, CellTower, refuse)
    with pytest.raises(TypeError):  # a dataclass, but not the shape of a GT06 frame
        native.extension.gt06_bind(CellTower, Gt06Location, Fix, CellTower, refuse)
    with pytest.raises(TypeError):  # the C decode handing frames to itself would never end
        native.extension.gt06_bind(
            gt06.Gt06Frame, Gt06Location, Fix, CellTower, native.extension.gt06_decode
        )
    # the classes bound before stay bound
    assert gt06.decode(usual_gt06_frames()[0]) == gt06_decoder.decode_python(usual_gt06_frames()[0])


# --- references ------------------------------------------------------------------------------
#
# A C refcount bug is the worst outcome: a missing reference crashes later, somewhere else; an
# extra one leaks every decoded object. Each object the C code touches is counted before, while
# N results are kept (each result holds exactly its share) and after they are dropped.


def counts(objects: tuple[object, ...]) -> list[int]:
    """Reference counts of ``objects`` (always called the same way, so the counts compare)."""
    gc.collect()
    return [sys.getrefcount(obj) for obj in objects]


def decode_failing(decode: Callable[[], object]) -> None:
    """Run ``decode``, which must raise ProtocolError, keeping no traceback around."""
    try:
        decode()
    except ProtocolError:
        return
    raise AssertionError("expected a ProtocolError")


def test_gt06_references_are_owned_exactly() -> None:
    data = b"".join(gt06_locations(300)[260:])  # serials 260..299: not cached small ints
    tz = timezone(timedelta(hours=3), "test zone")
    splitter = gt06.Gt06FrameSplitter()
    frames = splitter.feed(data)
    frame = frames[0]
    assert frame.serial is not None and frame.serial >= 260
    watched = (data, frame, frame.serial, frame.content, tz, Gt06Location, Fix, CellTower)
    before = counts(watched)

    kept = [gt06.decode(frame, tz=tz) for _ in range(1000)]
    assert all(type(message) is Gt06Location for message in kept)
    during = counts(watched)
    # each Gt06Location holds the frame's serial, one Fix and one CellTower (its class too)
    assert during == [
        before[0],
        before[1],
        before[2] + 1000,
        before[3],
        before[4],
        before[5] + 1000,
        before[6] + 1000,
        before[7] + 1000,
    ]
    del kept
    assert counts(watched) == before

    # the scan: each kept frame holds its class (once), nothing holds the data
    scanned = (data, gt06.Gt06Frame)
    before_scan = counts(scanned)
    kept_frames = [gt06.Gt06FrameSplitter().feed(data) for _ in range(100)]
    assert counts(scanned) == [before_scan[0], before_scan[1] + 100 * len(frames)]
    del kept_frames
    assert counts(scanned) == before_scan

    # frames the C code hands to the Python decoder, which raises: nothing kept either
    broken = gt06.Gt06Frame(0x22, frame.content[:10], frame.serial, False, True, frame.raw)
    involved = (broken, broken.content, frame.serial, tz)
    before_broken = counts(involved)
    for _ in range(1000):
        decode_failing(lambda: gt06.decode(broken, tz=tz))
    assert counts(involved) == before_broken


def test_jt808_references_are_owned_exactly() -> None:
    data = b"".join(jt808_locations(30))
    splitter = jt808.Jt808FrameSplitter()
    frame = splitter.feed(data)[-1]
    decoder = jt808.Jt808Decoder()
    watched: tuple[object, ...] = (data, frame, frame.content, CHINA_STANDARD_TIME, Location, Fix)
    watched += (AdditionalInfo, jt808.Jt808Packet, jt808.Jt808Header)
    before = counts(watched)

    kept = [decoder.decode(frame) for _ in range(1000)]
    assert all(type(packet.message) is Location for packet in kept)
    message = kept[0].message
    assert isinstance(message, Location)
    items = len(message.extras)
    del message
    assert items == 3
    during = counts(watched)
    assert during == [
        before[0],
        before[1],
        before[2],
        before[3],
        before[4] + 1000,
        before[5] + 1000,
        before[6] + 1000 * items,
        before[7] + 1000,
        before[8] + 1000,
    ]
    del kept
    assert counts(watched) == before

    scanned = (data, jt808.Jt808Frame)
    before_scan = counts(scanned)
    kept_frames = [jt808.Jt808FrameSplitter().feed(data) for _ in range(100)]
    assert counts(scanned) == [before_scan[0], before_scan[1] + 100 * 30]
    del kept_frames
    assert counts(scanned) == before_scan

    # a frame the C decoder declines (bad body length): the Python decoder raises
    broken = jt808.Jt808Frame(frame.content[:-1], frame.checksum, frame.checksum_ok)
    involved = (broken, broken.content, CHINA_STANDARD_TIME)
    before_broken = counts(involved)
    for _ in range(1000):
        decode_failing(lambda: decoder.decode(broken))
    assert counts(involved) == before_broken


def traced_growth(run: Callable[[], object], rounds: int) -> int:
    """Bytes still allocated after ``rounds`` more runs than a warmed-up baseline."""
    for _ in range(rounds // 10):
        run()
    gc.collect()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        for _ in range(rounds):
            run()
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current - baseline


def test_100k_decodes_do_not_grow_memory() -> None:
    gt06_stream = b"".join(gt06_locations(100))
    jt808_stream = b"".join(jt808_locations(100))
    gt06_splitter = gt06.Gt06FrameSplitter()
    jt808_splitter = jt808.Jt808FrameSplitter()
    decoder = jt808.Jt808Decoder()

    def gt06_round() -> None:
        for part in (gt06_stream[:1000], gt06_stream[1000:]):  # a frame split across reads
            for frame in gt06_splitter.feed(part):
                gt06.decode(frame)

    def jt808_round() -> None:
        for part in (jt808_stream[:1000], jt808_stream[1000:]):
            for frame in jt808_splitter.feed(part):
                decoder.decode(frame)

    # 1,000 rounds of 100 frames: 100,000 splits and decodes per protocol
    assert traced_growth(gt06_round, 1000) < 64 * 1024
    assert traced_growth(jt808_round, 1000) < 64 * 1024
    assert gt06_splitter.frames == 1100 * 100
    assert jt808_splitter.frames_returned == 1100 * 100


def test_jt808_vendor_item_path_owns_its_references_and_memory() -> None:
    """Jimi 0xE8/0xEB items: the C decoder calls the Python function for them."""
    (frame,) = jt808.Jt808FrameSplitter(keep_bad_checksum=True).feed(
        J.raw(J.LOCATION_LOW_BATTERY_REMOVING)
    )
    decoder = jt808.Jt808Decoder()
    watched: tuple[object, ...] = (frame, frame.content, Location, Fix, AdditionalInfo)
    before = counts(watched)
    kept = [decoder.decode(frame) for _ in range(1000)]
    first = kept[0].message
    assert isinstance(first, Location)
    items = len(first.extras)
    assert first.fix.attributes["alarm"] == "lowBattery,removing"
    del first
    during = counts(watched)
    assert during == [
        before[0],
        before[1],
        before[2] + 1000,
        before[3] + 1000,
        before[4] + 1000 * items,
    ]
    del kept
    assert counts(watched) == before
    assert traced_growth(lambda: decoder.decode(frame), 5_000) < 64 * 1024
