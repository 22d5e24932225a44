"""The matching engine: normalise person records, then (later) score, train, relink and evaluate.

Pure functions plus Splink; knows nothing of HTTP or the ORM (`mpi` and `api` import this package,
never the reverse). The public surface is `__all__`; everything else is internal.
"""

from linkage.normalise.address import AdminUnit, fold_address, normalise_admin_codes
from linkage.normalise.dates import PartialDate, parse_partial_date
from linkage.normalise.insurance import InsuranceCard, bhxh_number, parse_insurance_cards
from linkage.normalise.mojibake import repair_mojibake
from linkage.normalise.names import NameParts, normalise_name
from linkage.normalise.national_id import NationalId, check_cccd, classify_national_id
from linkage.normalise.phone import Phone, normalise_phone
from linkage.normalise.record import CanonicalRecord, normalise_record
from linkage.normalise.text import fold_ascii

__all__ = [
    "AdminUnit",
    "CanonicalRecord",
    "InsuranceCard",
    "NameParts",
    "NationalId",
    "PartialDate",
    "Phone",
    "bhxh_number",
    "check_cccd",
    "classify_national_id",
    "fold_address",
    "fold_ascii",
    "normalise_admin_codes",
    "normalise_name",
    "normalise_phone",
    "normalise_record",
    "parse_insurance_cards",
    "parse_partial_date",
    "repair_mojibake",
]
