"""The bundled Old Faithful data."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from gaussmix.datasets import FAITHFUL_UNITS, load_faithful

# shared/ lies beside the repository root, in development and in CI alike.
REFERENCE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "faithful.csv"


def test_shape_names_and_dtype():
    X, names = load_faithful()
    assert X.shape == (272, 2)
    assert X.dtype == np.float64
    assert names == ["eruptions", "waiting"]
    assert set(FAITHFUL_UNITS) == set(names)


def test_values_are_plausible():
    """Eruptions last 1.6-5.1 minutes, waits are 43-96 minutes (Azzalini and Bowman)."""
    X, _ = load_faithful()
    assert np.all(np.isfinite(X))
    eruptions, waiting = X.T
    assert 1.5 < eruptions.min() and eruptions.max() < 5.2
    assert 40 < waiting.min() and waiting.max() < 100
    # The well-known bimodality: both short and long eruptions are common.
    assert 60 < np.sum(eruptions < 3) < 120
    assert np.corrcoef(eruptions, waiting)[0, 1] > 0.85


@pytest.mark.skipif(not REFERENCE_CSV.exists(), reason=f"{REFERENCE_CSV} is not available")
def test_values_equal_the_reference_csv():
    with REFERENCE_CSV.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [row for row in rows[1:] if row]
    X, names = load_faithful()
    # The reference may carry an index column (as R writes it): keep the named ones.
    columns = [header.index(name) for name in names]
    expected = np.array([[float(row[c]) for c in columns] for row in body])
    np.testing.assert_array_equal(X, expected)
