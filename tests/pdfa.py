"""Reading a portal document back the way an archive would: poppler's tools, not our code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def pdfa3b_attachment(pdf: Path, name: str) -> str:
    """Check that the PDF at ``pdf`` declares PDF/A-3b; return the text of its attachment
    ``name`` (detached beside it)."""
    metadata = subprocess.run(
        ["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r'pdfaid:part(="|>)3', metadata)
    assert re.search(r'pdfaid:conformance(="|>)B', metadata)
    subprocess.run(["pdfdetach", "-saveall", "-o", str(pdf.parent), str(pdf)], check=True)
    return (pdf.parent / name).read_text()
