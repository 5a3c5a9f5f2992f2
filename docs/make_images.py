"""Refresh the README's figures: run `gaussmix lab` on Old Faithful and copy its PNGs.

Usage: python docs/make_images.py   (from the repository root, with gaussmix[plot] installed)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "gaussmix", "lab", "--out", folder, "--no-progress"],
            check=True,
        )
        IMAGES.mkdir(exist_ok=True)
        for kind in ("clusters", "density", "uncertainty", "criterion"):
            shutil.copyfile(Path(folder) / f"{kind}.png", IMAGES / f"lab-{kind}.png")
            print(f"wrote {IMAGES / f'lab-{kind}.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
