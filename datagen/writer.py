"""Kaggle-format CSV output, streamed day by day (plain or gzip, byte-deterministic)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .simulate import EVENT_TYPES, DayBatch

HEADER = ("event_time,event_type,product_id,category_id,category_code,brand,price,"
          "user_id,user_session\n")
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # not locale-dependent
CHUNK_ROWS = 200_000  # rows formatted at once: bounds the memory taken by Python strings
_HMS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def month_filename(year: int, month: int, compressed: bool = False, day: int | None = None) -> str:
    """Kaggle file name, e.g. ``2019-Nov.csv`` or ``2019-Nov.csv.gz``; with ``day``, the
    name of one day's file, e.g. ``2019-Nov-05.csv`` (a daily drop of new events)."""
    stem = f"{year}-{MONTH_ABBR[month - 1]}" + (f"-{day:02d}" if day is not None else "")
    return stem + ".csv" + (".gz" if compressed else "")


def format_rows(batch: DayBatch, lo: int, hi: int) -> str:
    """CSV text of rows ``lo:hi`` of a day batch (LF line endings, no quoting)."""
    day = batch.date.isoformat()
    secs, inv = np.unique(batch.sec[lo:hi], return_inverse=True)
    times = [f"{day} {_HMS[s]} UTC" for s in secs.tolist()]
    prods, sessions = batch.products, batch.sessions
    return "".join([
        f"{times[t]},{EVENT_TYPES[e]},{prods[p]},{sessions[s]}\n"
        for t, e, p, s in zip(inv.tolist(), batch.etype[lo:hi].tolist(),
                              batch.prod[lo:hi].tolist(), batch.sess[lo:hi].tolist())
    ])


class MonthWriter:
    """Writes one month file (or one day's file, with ``day``); data goes to a hidden
    ``.part`` file renamed on close."""

    def __init__(self, out_dir: Path, year: int, month: int, compressed: bool, day: int | None = None) -> None:
        self.path = Path(out_dir) / month_filename(year, month, compressed, day)
        self._tmp = self.path.with_name("." + self.path.name + ".part")
        self._raw: BinaryIO = open(self._tmp, "wb")
        # mtime=0 and no file name in the gzip header: same args -> identical bytes.
        self._out: BinaryIO = (gzip.GzipFile(filename="", mode="wb", fileobj=self._raw,
                                             compresslevel=6, mtime=0)
                               if compressed else self._raw)
        self._out.write(HEADER.encode("ascii"))
        self.rows = 0

    def write(self, batch: DayBatch) -> None:
        """Append a day's rows."""
        for lo in range(0, batch.size, CHUNK_ROWS):
            hi = min(batch.size, lo + CHUNK_ROWS)
            self._out.write(format_rows(batch, lo, hi).encode("utf-8"))
        self.rows += batch.size

    def close(self) -> Path:
        """Flush, close and move the finished file into place."""
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the partial file (used on errors / interrupts)."""
        try:
            if self._out is not self._raw:
                self._out.close()
            self._raw.close()
        finally:
            self._tmp.unlink(missing_ok=True)
