"""Reading and preparing data: CSV and Parquet files in, train and test arrays out.

Data in and out. The lab and the ``gaussmix`` command line stand on three steps, each usable alone:

- :func:`read_table` reads a CSV or Parquet file into a float64 array with
  column names, refusing what a Gaussian mixture cannot use (text columns,
  columns with no values) with one line that names the columns and the fix;
- :func:`load_dataset` (from :mod:`gaussmix.datasets`) loads a bundled data set
  with its feature names, units and, where known, true labels;
- :func:`prepare` splits the rows into a seeded training and test set, fills in
  or drops missing values and standardises, fitting scikit-learn's
  ``SimpleImputer`` and ``StandardScaler`` on the training rows only, so that
  the test rows and new rows (:meth:`Prepared.transform`) are treated exactly
  like data the model has not seen.

pandas (and pyarrow for Parquet) are optional dependencies: they are imported
when a file is read.

:class:`ParquetRows` and :class:`CsvRows` (:mod:`~gaussmix.data.streaming`) read
files larger than memory block by block: array-likes with ``shape``, ``dtype``
and row slicing that the estimators fit, score and label chunk by chunk.

The folder also holds the two writers every output goes through:
:mod:`~gaussmix.data.atomic` (a temporary name, fsync, then a rename) and
:mod:`~gaussmix.data.model_file` (the model file format, arrays and metadata in,
arrays and metadata out; the estimators build themselves from them).
"""

from __future__ import annotations

from ..datasets import DATASET_NAMES, Dataset, load_dataset
from .preparation import Prepared, prepare
from .streaming import CsvRows, ParquetRows
from .tables import MISSING_VALUES, Table, read_table

__all__ = [
    "CsvRows",
    "DATASET_NAMES",
    "MISSING_VALUES",
    "Dataset",
    "ParquetRows",
    "Prepared",
    "Table",
    "load_dataset",
    "prepare",
    "read_table",
]
