"""The ``gaussmix lab`` workflow, end to end, and its HTML report.

:func:`run_lab` loads data, prepares it, searches the models, and writes the
figures, the models, the assignments and ``report.html`` (rendered by
:mod:`~gaussmix.lab.report`) into one folder.
"""

from .workflow import DEFAULT_COVARIANCE_TYPES, LabResult, format_summary, run_lab

__all__ = ["DEFAULT_COVARIANCE_TYPES", "LabResult", "format_summary", "run_lab"]
