"""The health department's reports: the pilot's tables, data quality at source, referral flows and
surveillance, computed in DuckDB over facts read from the store.

- :func:`build_report` gives one table (:data:`TABLES`) for a period; :mod:`mpi.reports.output` writes it
  as CSV, XLSX or Markdown. Definitions of record, referral record and patient: :mod:`mpi.reports.tables`.
- Reports carry counts, codes and dates only: never a patient.
"""

from mpi.reports.output import MEDIA_TYPES, render
from mpi.reports.report import Report
from mpi.reports.surveillance import GROUPS, icd_group
from mpi.reports.tables import TABLES, Period, ReportOptions, build_report

__all__ = [
    "GROUPS",
    "MEDIA_TYPES",
    "TABLES",
    "Period",
    "Report",
    "ReportOptions",
    "build_report",
    "icd_group",
    "render",
]
