"""The C extension of trackstream_protocols (everything else is in pyproject.toml).

``make setup`` / ``uv sync`` compile it with the machine's C compiler; nothing compiled is
committed. The pure-Python code stays the specification (see trackstream_protocols.native).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "trackstream_protocols._native",
            sources=["csrc/native.c"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
