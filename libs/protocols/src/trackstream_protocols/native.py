"""Which implementation of the decode hot paths this process runs: C or pure Python.

The package ships a C extension, ``trackstream_protocols._native`` (``libs/protocols/csrc``,
compiled by ``make setup`` / ``uv sync``), for what the profile says is hot: finding GT06 and
JT/T 808 frames in the stream with their CRC-ITU / XOR check and un-escaping, and decoding the
usual location layouts (GT06 0x10/0x11/0x12/0x22/0x2D/0x31/0xA0, JT/T 808 0x0200 with a 2013
header and the standard additional items; its Jimi 0xE8/0xEB items through the Python function
that decodes them) straight into the package's value objects.
Everything else, and every error, is the pure-Python code, which stays the specification:
the C code hands anything unusual back to it, and the differential tests
(``tests/test_native_differential.py``) check that both give identical results.

The package uses the extension whenever it can be imported. ``CODEC`` says which one runs
(ingest logs it once at start); the tests require the extension to be built
(``tests/test_native.py``), so a machine or image that silently fell back to pure Python fails.
"""

from __future__ import annotations

from typing import Final

#: the interface this code expects of the extension (``NATIVE_ABI_VERSION`` in csrc/native.c)
ABI_VERSION: Final = 1
#: why the extension is not used ("" when it is)
UNAVAILABLE_REASON = ""
try:
    from trackstream_protocols import _native as extension
except ImportError as exc:  # not compiled: the pure-Python code runs everything
    extension = None  # type: ignore[assignment]
    UNAVAILABLE_REASON = str(exc)
else:
    if extension.ABI_VERSION != ABI_VERSION:  # built from other sources: `make setup` rebuilds
        UNAVAILABLE_REASON = (
            f"{extension.__file__} has interface {extension.ABI_VERSION}, "
            f"this code needs {ABI_VERSION}: run `make setup`"
        )
        extension = None  # type: ignore[assignment]

__all__ = ["ABI_VERSION", "CODEC", "UNAVAILABLE_REASON", "available", "extension"]


def available() -> bool:
    """True when the C extension is built and in use."""
    return extension is not None


#: ``"native"`` (the C extension runs the hot paths) or ``"python"`` (pure Python throughout)
CODEC: Final[str] = "native" if available() else "python"
