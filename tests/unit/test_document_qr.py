"""Documents' QR codes are qrcode's, module for module: the same penalty for every mask, so
the same mask chosen, so the same code."""

import random
import string

import pytest
import qrcode
from qrcode.util import lost_point

from portal.documents.qr import QRCode, penalty


def as_rows(modules) -> list[int]:
    return [int("".join("1" if module else "0" for module in row), 2) for row in modules]


@pytest.mark.parametrize("size", [21, 29, 33, 57])
def test_penalty_is_qrcodes_on_random_modules(size):
    rng = random.Random(size)
    for _ in range(100):
        share = rng.choice([0.2, 0.5, 0.8])  # long runs, and a dark share far from half
        modules = [[rng.random() < share for _ in range(size)] for _ in range(size)]
        assert penalty(as_rows(modules), size) == lost_point(modules)


def test_penalty_is_qrcodes_on_every_mask_of_real_codes():
    """Real codes have the finder-like patterns and runs random modules rarely have."""
    for text in ("https://portal.example.org/verify/ABCDEFGHJK", "x" * 120, "1234567890" * 30):
        code = qrcode.QRCode()
        code.add_data(text)
        code.best_fit()
        for mask in range(8):
            code.makeImpl(True, mask)
            assert penalty(as_rows(code.modules), code.modules_count) == lost_point(code.modules)


def test_codes_are_qrcodes_module_for_module():
    rng = random.Random(13)
    alphabet = string.ascii_letters + string.digits + "/:.-_?=&%"
    texts = [
        "https://portal.example.org/verify/"
        + "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=10))
        for _ in range(40)
    ]
    texts += ["".join(rng.choices(alphabet, k=rng.randint(1, 150))) for _ in range(40)]
    texts += ["".join(rng.choices(string.digits, k=rng.randint(1, 200))) for _ in range(10)]
    chosen = set()
    for text in texts:
        theirs, ours = qrcode.QRCode(border=2), QRCode(border=2)
        for code in (theirs, ours):
            code.add_data(text)
            code.make(fit=True)
        assert ours.get_matrix() == theirs.get_matrix(), text
        chosen.add(theirs.best_mask_pattern())
    assert len(chosen) == 8  # every mask was chosen by some code
