"""Vectorised text helpers: RNG-derived UUID4 strings and two-decimal prices."""

from __future__ import annotations

import numpy as np

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# (destination column in the 36-char UUID, source column in the 32 hex digits, width)
_UUID_GROUPS = ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12))


def uuid4_strings(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` RFC 4122 version-4 UUID strings drawn from ``rng``.

    Never ``uuid.uuid4()``: that reads the OS entropy pool and would break the
    same-seed-same-bytes guarantee.
    """
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40   # version 4
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80   # RFC 4122 variant
    hexs = np.empty((n, 32), dtype=np.uint8)
    hexs[:, 0::2] = _HEX[b >> 4]
    hexs[:, 1::2] = _HEX[b & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src, width in _UUID_GROUPS:
        out[:, dst:dst + width] = hexs[:, src:src + width]
    text = out.tobytes().decode("ascii")
    return [text[i:i + 36] for i in range(0, 36 * n, 36)]


def format_prices(cents: np.ndarray) -> list[str]:
    """Integer cents -> "123.45": exactly two decimals, no float rounding surprises."""
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]
