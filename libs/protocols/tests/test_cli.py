"""``python -m trackstream_protocols decode``: real frames in, JSON and platform answers out."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from libs.protocols.tests import gt06_frames as G
from libs.protocols.tests import jt808_frames as J
from libs.protocols.tests.plausibility import verify_position
from trackstream_protocols.cli import main, parse_tz, to_json
from trackstream_protocols.jt808 import GeneralResult, Jt808Parameter, ParamType
from trackstream_protocols.model import Fix


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]]]:
    status = main(list(argv))
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines()]


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "frames.txt"
    path.write_text(text)
    return str(path)


def spaced(hex_text: str) -> str:
    """``hex_text`` with a space between bytes, as many tools print frames."""
    return " ".join(hex_text[i : i + 2] for i in range(0, len(hex_text), 2))


def fix_of(obj: object) -> Fix:
    """The Fix a CLI ``fix`` object describes (for the plausibility check)."""
    assert isinstance(obj, dict)
    return Fix(
        fix_time=datetime.fromisoformat(obj["fix_time"]),
        latitude=obj["latitude"],
        longitude=obj["longitude"],
        speed_kmh=obj["speed_kmh"],
        course_deg=obj["course_deg"],
        valid=obj["valid"],
        satellites=obj["satellites"],
        altitude_m=obj["altitude_m"],
        attributes=obj["attributes"],
    )


# ---------------------------------------------------------------------------------------------
# GT06


def test_gt06_login_frame(capsys: pytest.CaptureFixture[str]) -> None:
    status, (obj,) = run(capsys, "decode", "gt06", G.LOGIN_5361)
    assert status == 0
    assert obj["frame"] == {
        "protocol_number": "0x01",
        "serial": 0x05D4,
        "checksum_ok": True,
        "extended": False,
        "length": 18,
    }
    message = obj["message"]
    assert isinstance(message, dict)
    assert message["type"] == "Gt06Login" and message["imei"] == "860470067873061"
    assert obj["response"] == "7878050105d426440d0a"  # what the server answered in traccar#5361


@pytest.mark.parametrize(("frame", "answer"), G.ACKNOWLEDGED)
def test_gt06_responses_match_the_servers_answers(
    capsys: pytest.CaptureFixture[str], frame: str, answer: str
) -> None:
    status, (obj,) = run(capsys, "decode", "gt06", frame)
    assert status == 0 and obj["response"] == answer.lower()


def test_gt06_location_message_and_plausible_fix(capsys: pytest.CaptureFixture[str]) -> None:
    _, (obj,) = run(capsys, "decode", "gt06", G.GPS_LBS_22)
    message = obj["message"]
    assert isinstance(message, dict) and message["type"] == "Gt06Location"
    fix = verify_position(fix_of(message["fix"]))
    assert fix.fix_time == datetime(2015, 12, 29, 2, 51, 5, tzinfo=UTC)
    assert message["cell"] == {
        "type": "CellTower",
        "mcc": 460,
        "mnc": 0,
        "lac": 10365,
        "cid": 8049,
        "signal_strength": None,
    }


def test_gt06_file_with_comments_spaces_and_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = "\n".join(
        [
            "# a capture",
            "",
            spaced(G.LOGIN_171),
            f"{G.STATUS_13}{G.GPS_LBS_12}  # two frames on one line",
            "78 78 zz",
            G.GPS_10,
            G.STATUS_13[:-6],
        ]
    )
    status, objs = run(capsys, "decode", "gt06", "--file", write(tmp_path, text))
    assert status == 1
    assert [o["line"] for o in objs] == [3, 4, 4, 5, 6, 7]
    assert [o["frame"]["protocol_number"] for o in objs if "frame" in o] == [  # type: ignore[index]
        "0x01",
        "0x13",
        "0x12",
        "0x10",
    ]
    assert objs[3] == {
        "line": 5,
        "error": "not hexadecimal (or an odd number of digits)",
        "error_type": "ProtocolError",
    }
    assert "incomplete frame" in str(objs[5]["error"])


def test_gt06_garbage_around_a_frame_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    status, objs = run(capsys, "decode", "gt06", "0000" + G.LOGIN_171)
    assert status == 1
    assert objs[0]["message"]["imei"] == "864717003233347"  # type: ignore[index]
    assert "2 bytes skipped" in str(objs[1]["error"])
    status, (only,) = run(capsys, "decode", "gt06", "00112233")
    assert status == 1 and "no GT06 frame" in str(only["error"])


def test_gt06_bad_crc_decodes_unless_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    status, (obj,) = run(capsys, "decode", "gt06", G.LOGIN_TZ_EAST8_BAD_CRC)
    assert status == 0 and obj["frame"]["checksum_ok"] is False  # type: ignore[index]
    assert obj["message"]["timezone"] == "+08:00"  # type: ignore[index]
    assert obj["response"] is not None
    status, (dropped, kept) = run(
        capsys, "decode", "gt06", "--drop-bad-checksum", G.LOGIN_TZ_EAST8_BAD_CRC, G.LOGIN_5361
    )
    assert status == 1
    assert dropped["dropped"] is True and "bad CRC" in str(dropped["error"])
    assert dropped["frame"]["protocol_number"] == "0x01"  # type: ignore[index]
    assert kept["response"] == "7878050105d426440d0a"


def test_gt06_login_timezone_applies_to_later_frames(capsys: pytest.CaptureFixture[str]) -> None:
    _, plain = run(capsys, "decode", "gt06", G.GPS_LBS_22)
    _, after_login = run(capsys, "decode", "gt06", G.LOGIN_TZ_WEST4, G.GPS_LBS_22)
    _, fixed = run(capsys, "decode", "gt06", "--tz", "UTC", G.LOGIN_TZ_WEST4, G.GPS_LBS_22)
    utc = datetime.fromisoformat(plain[0]["message"]["fix"]["fix_time"])  # type: ignore[index]
    west = datetime.fromisoformat(after_login[1]["message"]["fix"]["fix_time"])  # type: ignore[index]
    assert after_login[0]["message"]["timezone"] == "-04:00"  # type: ignore[index]
    assert west - utc == timedelta(hours=4)
    assert fixed[1]["message"]["fix"]["fix_time"] == utc.isoformat()  # type: ignore[index]


def test_gt06_tz_option(capsys: pytest.CaptureFixture[str]) -> None:
    _, (obj,) = run(capsys, "decode", "gt06", "--tz", "+08:00", G.GPS_LBS_22)
    when = datetime.fromisoformat(obj["message"]["fix"]["fix_time"])  # type: ignore[index]
    assert when == datetime(2015, 12, 28, 18, 51, 5, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# JT/T 808


def test_jt808_location(capsys: pytest.CaptureFixture[str]) -> None:
    status, (obj,) = run(capsys, "decode", "jt808", J.LOCATION_2A)
    assert status == 0
    frame = obj["frame"]
    assert isinstance(frame, dict)
    assert frame["message_id"] == "0x0200" and frame["serial"] == 3
    assert frame["checksum_ok"] is True and frame["edition"] == "2013"
    assert frame["terminal_id"] == "001601285614"
    message = obj["message"]
    assert isinstance(message, dict) and message["type"] == "Location"
    verify_position(fix_of(message["fix"]))
    assert obj["response"] == "7e8001000500160128561400000003020000f87e"


def test_jt808_responses_match_captured_server_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, (auth,) = run(capsys, "decode", "jt808", "--first-serial", "1", J.AUTH_2013_BSJ)
    assert auth["response"] == J.GENERAL_RESPONSE_BSJ  # traccar#5997: Traccar's reply
    _, (location,) = run(capsys, "decode", "jt808", "--first-serial", "6", J.LOCATION_RTVS)
    assert location["response"] == J.GENERAL_RESPONSE_RTVS.lower()  # rtvs#5: the server's reply


def test_jt808_serials_count_and_register_auth_code(capsys: pytest.CaptureFixture[str]) -> None:
    _, objs = run(capsys, "decode", "jt808", J.REGISTER_2013, J.TERMINAL_RESPONSE_BSJ, J.HEARTBEAT)
    register, terminal_response, heartbeat = objs
    assert str(register["response"]).startswith("7e8100")
    # auth code = terminal id as ASCII, as Traccar does
    assert bytes.fromhex(str(register["response"]))[-14:-2] == b"014130567872"
    assert terminal_response["response"] is None  # answers a platform message
    assert bytes.fromhex(str(heartbeat["response"]))[11:13] == b"\x00\x01"  # second serial
    _, (custom,) = run(capsys, "decode", "jt808", "--auth-code", "XYZ", J.REGISTER_2013)
    assert bytes.fromhex(str(custom["response"]))[-5:-2] == b"XYZ"


def test_jt808_traccar_style_unescaped_frame(capsys: pytest.CaptureFixture[str]) -> None:
    status, (obj,) = run(capsys, "decode", "jt808", J.HEARTBEAT[2:-2])
    assert status == 0 and obj["message"] == {"type": "Heartbeat", "extra": ""}
    assert obj["frame"]["message_id"] == "0x0002"  # type: ignore[index]


def test_jt808_reassembles_subpackages_across_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    packages = J.demo5_jpeg_packages()
    text = "# SmallChi Demo5: a JPEG in ten 0x0801 packages\n" + "\n".join(packages) + "\n"
    status, objs = run(capsys, "decode", "jt808", "--file", write(tmp_path, text))
    assert status == 0  # bad check bytes are flagged, not fatal
    assert len(objs) == 10
    assert all(o["frame"]["checksum_ok"] is False for o in objs)  # type: ignore[index]
    assert all(o["response"] is None for o in objs)
    assert objs[0]["reassembly"] == {"missing": [2, 3, 4, 5, 6, 7, 8, 9, 10]}
    assert objs[8]["reassembly"] == {"missing": [10]}
    whole = objs[9]["reassembled"]
    assert isinstance(whole, dict)
    assert whole["message_id"] == "0x0801" and whole["first_serial"] == 0x2031
    message = whole["message"]
    assert isinstance(message, dict) and message["type"] == "MultimediaData"
    assert message["media_id"] == 10013
    data = bytes.fromhex(str(message["data"]))
    assert len(data) == 6935 and data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    verify_position(fix_of(message["location"]["fix"]))
    assert str(whole["response"]).startswith("7e8800")


def test_jt808_incomplete_message_is_noted(capsys: pytest.CaptureFixture[str]) -> None:
    packages = J.demo5_jpeg_packages()
    status, objs = run(capsys, "decode", "jt808", *packages[:3])
    assert status == 0
    assert objs[-1] == {
        "incomplete": "0x0801",
        "first_serial": 0x2031,
        "total": 10,
        "missing": [4, 5, 6, 7, 8, 9, 10],
    }


def test_jt808_drop_bad_checksum(capsys: pytest.CaptureFixture[str]) -> None:
    status, objs = run(
        capsys, "decode", "jt808", "--drop-bad-checksum", J.demo5_jpeg_packages()[0], J.HEARTBEAT
    )
    assert status == 1
    assert objs[0]["dropped"] is True and "bad check byte" in str(objs[0]["error"])
    assert objs[1]["message"] == {"type": "Heartbeat", "extra": ""}


def test_jt808_errors_continue(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = "\n".join(
        ["7e 00 7e", J.LOCATION_2014_BAD, J.HEARTBEAT + "0102", "0g", J.HEARTBEAT_2019]
    )
    status, objs = run(capsys, "decode", "jt808", "--file", write(tmp_path, text))
    assert status == 1
    assert [o["line"] for o in objs] == [1, 2, 3, 3, 4, 5]
    assert "error" in objs[0] and "error" in objs[1]  # no frame; declared body length wrong
    assert objs[1]["frame"]["checksum_ok"] is False  # type: ignore[index]
    assert objs[2]["message"]["type"] == "Heartbeat"  # type: ignore[index]
    assert "not part of a frame" in str(objs[3]["error"])
    assert objs[5]["frame"]["edition"] == "2019"  # type: ignore[index]


def test_jt808_device_timezone(capsys: pytest.CaptureFixture[str]) -> None:
    _, (cst,) = run(capsys, "decode", "jt808", J.LOCATION_2A)
    _, (utc,) = run(capsys, "decode", "jt808", "--tz", "UTC", J.LOCATION_2A)
    default = datetime.fromisoformat(cst["message"]["fix"]["fix_time"])  # type: ignore[index]
    as_utc = datetime.fromisoformat(utc["message"]["fix"]["fix_time"])  # type: ignore[index]
    assert as_utc - default == timedelta(hours=8)


# ---------------------------------------------------------------------------------------------
# plumbing


def test_stdin_and_pretty(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(G.LOGIN_171 + "\n"))
    assert main(["decode", "gt06", "--file", "-", "--pretty"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("{\n  ") and json.loads(out)["message"]["imei"] == "864717003233347"


@pytest.mark.parametrize(
    "argv",
    [
        ["decode", "gt06"],
        ["decode", "gt06", G.LOGIN_171, "--file", "x.txt"],
        ["decode", "gt06", "--file", "/nonexistent/frames.txt"],
        ["decode", "gt06", "--tz", "Mars/Olympus", G.LOGIN_171],
        ["decode", "jt808", "--first-serial", "70000", J.HEARTBEAT],
        ["decode", "nmea", "00"],
        [],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert capsys.readouterr().out == ""


def test_module_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trackstream_protocols", "decode", "gt06", G.LOGIN_171],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["response"] == "787805010001d9dc0d0a"  # traccar#171


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("UTC", timedelta(0)),
        ("Z", timedelta(0)),
        ("+08:00", timedelta(hours=8)),
        ("+0530", timedelta(hours=5, minutes=30)),
        ("-4", timedelta(hours=-4)),
        ("GMT+8", timedelta(hours=8)),
        ("utc-03:30", timedelta(hours=-3, minutes=-30)),
    ],
)
def test_parse_tz_offsets(text: str, offset: timedelta) -> None:
    assert parse_tz(text).utcoffset(None) == offset


def test_parse_tz_names_and_errors() -> None:
    assert parse_tz("Asia/Shanghai") == ZoneInfo("Asia/Shanghai")
    for bad in ("+25", "Nowhere/Else", "../etc"):
        with pytest.raises(ValueError):
            parse_tz(bad)


def test_to_json_conventions() -> None:
    assert to_json(GeneralResult.UNSUPPORTED) == "UNSUPPORTED"
    assert to_json(timezone(timedelta(hours=-4, minutes=-30))) == "-04:30"
    assert to_json(ZoneInfo("UTC")) == "+00:00"
    assert to_json(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05+00:00"
    assert to_json(b"\x7e\x01") == "7e01"
    assert to_json(timedelta(seconds=90)) == 90.0
    assert to_json({1: (float("nan"), {2, 3})}) == {"1": ["nan", [2, 3]]}
    parameter = to_json(Jt808Parameter(0x0001, ParamType.DWORD, b"\x00\x00\x00\x0a"))
    assert parameter == {
        "class": "Jt808Parameter",
        "id": 1,
        "type": "DWORD",
        "value": "0000000a",
    }
    assert str(to_json(object())).startswith("<object object")
