"""Names and places of the project declared once, for every layer (nothing here imports churn)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: What a run reads when no input is given.
SAMPLE_DATA = PACKAGE_DIR.parent / "data" / "sample" / "churn.csv"
