"""The QR code a document prints to lead to ``/verify``: qrcode's code, module for module,
made in a fraction of the time.

qrcode chooses a code's mask (one of eight patterns laid over the data modules) by making
the whole code once per mask and scoring each with the standard's penalty rules
(``qrcode.util.lost_point``): three quarters of the time a receipt's QR code took, in
pure-Python loops over every module. Here the data are placed once, each mask is laid over
rows held as integers, and the same penalty is counted with string and bit operations; the
least penalty wins, the first of equals as in qrcode, which then makes the code with that
mask. ``tests/unit/test_document_qr.py`` checks the penalty and whole codes against qrcode's.
"""

from __future__ import annotations

import base64
import io
import re
from functools import cache

import qrcode
from PIL import Image
from qrcode.util import mask_func

#: the QR code's least width in pixels: 32 mm on paper at 300 dpi
QR_PIXELS = 378

_LIGHT_RUN, _DARK_RUN = re.compile("00000+"), re.compile("11111+")
#: dark-light-dark-dark-dark-light-dark (1:1:3:1:1) with four light modules on one side; neither
#: can overlap itself, so counting each (without overlaps) counts every occurrence
_FINDER_LIKE = ("10111010000", "00001011101")


def penalty(rows: list[int], size: int) -> int:
    """qrcode's ``lost_point`` of the code whose row ``r`` has its column ``c`` dark where bit
    ``size - 1 - c`` of ``rows[r]`` is set."""
    lines = [format(row, f"0{size}b") for row in rows]
    lines += ["".join(column) for column in zip(*lines, strict=True)]
    text = " ".join(lines)  # the rows, then the columns; no pattern spans a space
    runs = sum(len(run) - 2 for pattern in (_LIGHT_RUN, _DARK_RUN) for run in pattern.findall(text))
    finder_like = sum(text.count(pattern) for pattern in _FINDER_LIKE)
    width = (1 << size) - 1
    blocks = 0
    for upper, lower in zip(rows, rows[1:], strict=False):
        same_column = ~(upper ^ lower) & width
        same_pair = ~(upper ^ (upper >> 1)) & (width >> 1)
        blocks += (same_column & (same_column >> 1) & same_pair).bit_count()
    dark = sum(row.bit_count() for row in rows)
    rating = int(abs(float(dark) / (size**2) * 100 - 50) / 5)
    return runs + 3 * blocks + 40 * finder_like + 10 * rating


@cache
def _mask_changes(size: int, data_modules: frozenset[tuple[int, int]]) -> list[list[int]]:
    """For each mask, per row, the data modules whose colour differs from mask 0's."""
    first = mask_func(0)
    changes = []
    for pattern in range(8):
        mask = mask_func(pattern)
        rows = [0] * size
        for row, column in data_modules:
            if mask(row, column) != first(row, column):
                rows[row] |= 1 << (size - 1 - column)
        changes.append(rows)
    return changes


class QRCode(qrcode.QRCode):
    """qrcode's QRCode, choosing the mask as it does, with the data placed once."""

    _data_modules: frozenset[tuple[int, int]] | None = None

    def map_data(self, data, mask_pattern):
        if self._data_modules is None:  # the modules left for data are those still unset
            self._data_modules = frozenset(
                (row, column)
                for row, modules in enumerate(self.modules)
                for column, module in enumerate(modules)
                if module is None
            )
        super().map_data(data, mask_pattern)

    def best_mask_pattern(self):
        self._data_modules = None
        self.makeImpl(True, 0)
        size = self.modules_count
        placed = [
            int("".join("1" if module else "0" for module in modules), 2)
            for modules in self.modules
        ]
        changes = _mask_changes(size, self._data_modules)
        penalties = [
            penalty([row ^ change for row, change in zip(placed, rows, strict=True)], size)
            for rows in changes
        ]
        return penalties.index(min(penalties))


def qr_data_uri(text: str) -> str:
    """The QR code of ``text`` as a PNG of square modules (a quiet zone of two modules
    included), at least :data:`QR_PIXELS` wide, which the templates show with
    ``image-rendering: pixelated``: the PDF says not to interpolate, so the modules stay
    sharp at any size and resolution."""
    code = QRCode(border=2)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels)
    scale = QR_PIXELS // size + 1
    image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
