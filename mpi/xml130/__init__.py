"""Reader and validator of QĐ 130 / 4750 / 3176 XML submissions (``GIAMDINHHS`` envelopes).

Public surface: :func:`parse_submission` turns the bytes of one file into a :class:`ParsedSubmission`
(envelope facts, one :class:`ParsedEncounter` per HOSO with typed rows and every issue found). It
never touches the store and never raises on bad input: problems become issues.
"""

from mpi.xml130.envelope import Limits, ParsedEncounter, ParsedSubmission, ParsedTable, parse_submission
from mpi.xml130.fields import FieldDef, Kind, field_table, fields_by_name
from mpi.xml130.issues import Issue, Severity
from mpi.xml130.values import PartialDateTime, Precision

__all__ = [
    "FieldDef",
    "Issue",
    "Kind",
    "Limits",
    "ParsedEncounter",
    "ParsedSubmission",
    "ParsedTable",
    "PartialDateTime",
    "Precision",
    "Severity",
    "field_table",
    "fields_by_name",
    "parse_submission",
]
