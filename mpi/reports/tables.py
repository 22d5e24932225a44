"""The department's report tables, each one DuckDB query over the facts (:mod:`mpi.reports.facts`).

Definitions (also in the README, "Reports"):

- a **record** is the current version of one encounter (MA_CSKCB, MA_LK): corrections replace, never add;
- a **referral record** is a record with a referral paper (an XML13 table) or with XML1 MA_NOI_DEN set;
- a **patient** is a distinct person of the MPI (after merges), counted once per row of the table;
- a record counts in the month (week) of its NGAY_VAO, or with ``by="received"`` of the day the hub
  received it;
- a referral is **received** when the receiving facility has a record of the same person with MA_NOI_DI =
  the sender, starting no earlier than the sending record's NGAY_RA (and the same GIAY_CHUYEN_TUYEN when
  both sides carry one): the rule of :mod:`mpi.records.referrals`, set-based here. Still pending after
  ``OVERDUE_DAYS`` it is **overdue**.

No table carries a name, an identifier or a person id: counts, codes and dates only.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import duckdb
from sqlalchemy import Engine

from mpi.errors import NotFound
from mpi.facilities import LEVEL_RANK, LEVELS
from mpi.identity.policy import LINK_RULES_BY_EVIDENCE
from mpi.records.referrals import OVERDUE_DAYS
from mpi.reports.facts import facts_connection
from mpi.reports.report import Report
from mpi.reports.surveillance import commune_label, surveillance_rows

By = Literal["visit", "received"]


@dataclass(frozen=True, slots=True)
class Period:
    """Months ``start``..``end`` inclusive (either open)."""

    start: str | None = None
    """YYYY-MM"""
    end: str | None = None

    @property
    def first_day(self) -> date:
        return date.fromisoformat(f"{self.start}-01") if self.start else date(1900, 1, 1)

    @property
    def last_day(self) -> date:
        if not self.end:
            return date(9999, 12, 31)
        year, month = (int(x) for x in self.end.split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True, slots=True)
class ReportOptions:
    period: Period = Period()
    by: By = "visit"
    facility: str | None = None
    """Restrict to one facility (quality: a facility's own scorecard)."""
    suppress: bool = False
    """Small counts (1..4) hidden: for readers outside the department."""
    today: date | None = None


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    rel = cur.execute(sql, params or [])
    names = [d[0] for d in rel.description or []]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def _linked_share(evidence: str) -> str:
    """SQL for the share of encounters first linked, not for review, by a rule resting on ``evidence``."""
    rules = ", ".join(f"'{rule}'" for rule in LINK_RULES_BY_EVIDENCE[evidence])
    return f"avg((first_rule IN ({rules}) AND first_state <> 'review')::INT)"


def _day_column(by: By) -> str:
    return "visit_day" if by == "visit" else "received_day"


_REFERRAL = "(has_letter OR noi_den IS NOT NULL)"


def months(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    day = _day_column(o.by)
    rows = _rows(
        cur,
        f"""
        WITH r AS (SELECT * FROM enc WHERE {day} BETWEEN ? AND ? AND (? IS NULL OR facility_code = ?)),
        span AS (SELECT date_trunc('month', coalesce(?, min({day}))) AS lo,
                        date_trunc('month', coalesce(?, max({day}))) AS hi FROM r),
        m AS (SELECT unnest(generate_series(lo, hi, INTERVAL 1 MONTH))::DATE AS month FROM span WHERE lo IS NOT NULL)
        SELECT strftime(m.month, '%Y-%m') AS month, count(r.id) AS records,
               count(r.id) FILTER (WHERE {_REFERRAL}) AS referral_records, count(DISTINCT r.person_id) AS patients
        FROM m LEFT JOIN r ON date_trunc('month', r.{day}) = m.month
        GROUP BY m.month ORDER BY m.month
        """,  # noqa: S608 - column names from a closed set
        [o.period.first_day, o.period.last_day, o.facility, o.facility,
         o.period.first_day if o.period.start else None, o.period.last_day if o.period.end else None],
    )  # fmt: skip
    return Report(
        "months", "Theo tháng", "By month", ["month", "records", "referral_records", "patients"],
        ["Tháng", "Hồ sơ", "Hồ sơ chuyển tuyến", "Người bệnh"], rows,
        [f"Tháng theo {'ngày vào (NGAY_VAO)' if o.by == 'visit' else 'ngày hub nhận'}."],
    )  # fmt: skip


def totals(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    day = _day_column(o.by)
    rows = _rows(
        cur,
        f"""
        SELECT count(*) AS records, count(DISTINCT person_id) AS patients,
               count(*) FILTER (WHERE {_REFERRAL}) AS referral_records,
               count(DISTINCT facility_code) AS facilities
        FROM enc WHERE {day} BETWEEN ? AND ?
        """,  # noqa: S608
        [o.period.first_day, o.period.last_day],
    )
    return Report(
        "totals", "Tổng hợp toàn tỉnh", "Province totals", ["records", "patients", "referral_records", "facilities"],
        ["Hồ sơ", "Người bệnh", "Hồ sơ chuyển tuyến", "Cơ sở có hồ sơ"], rows,
    )  # fmt: skip


def waves(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    day = _day_column(o.by)
    rows = _rows(
        cur,
        f"""
        WITH r AS (SELECT enc.*, fac.wave FROM enc LEFT JOIN fac ON fac.code = enc.facility_code
                   WHERE {day} BETWEEN ? AND ?),
        w AS (SELECT wave, min(onboarded_on) AS onboarded_on, count(*) AS facilities FROM fac
              WHERE registered AND wave IS NOT NULL GROUP BY wave),
        agg AS (SELECT wave, count(*) AS records, count(DISTINCT person_id) AS patients,
                       count(*) FILTER (WHERE {_REFERRAL}) AS referral_records FROM r GROUP BY wave)
        SELECT coalesce(w.wave, agg.wave) AS wave, w.onboarded_on, coalesce(w.facilities, 0) AS facilities,
               coalesce(agg.records, 0) AS records, coalesce(agg.patients, 0) AS patients,
               coalesce(agg.referral_records, 0) AS referral_records
        FROM w FULL JOIN agg ON agg.wave = w.wave
        ORDER BY coalesce(w.wave, agg.wave) NULLS LAST
        """,  # noqa: S608
        [o.period.first_day, o.period.last_day],
    )
    for r in rows:
        if r["wave"] is None:  # records of facilities without a wave in the registry
            r["facilities"] = int(cur.execute(
                "SELECT count(DISTINCT e.facility_code) FROM enc e LEFT JOIN fac f ON f.code = e.facility_code "
                "WHERE f.wave IS NULL"
            ).fetchone()[0])  # type: ignore[index]  # fmt: skip
    return Report(
        "waves", "Theo đợt triển khai", "By deployment wave",
        ["wave", "onboarded_on", "facilities", "records", "patients", "referral_records"],
        ["Đợt", "Ngày triển khai", "Cơ sở", "Hồ sơ", "Người bệnh", "Hồ sơ chuyển tuyến"], rows,
        ["Dòng không có đợt: hồ sơ của cơ sở chưa đăng ký hoặc chưa được xếp đợt."],
    )  # fmt: skip


def facilities(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    day = _day_column(o.by)
    rows = _rows(
        cur,
        f"""
        SELECT e.facility_code, f.name, f.level, f.commune_code, f.wave, coalesce(f.registered, false) AS registered,
               count(*) AS records, count(DISTINCT e.person_id) AS patients,
               count(*) FILTER (WHERE {_REFERRAL}) AS referral_records,
               count(*) FILTER (WHERE e.noi_di IS NOT NULL) AS referred_in,
               min(e.{day}) AS first_record, max(e.{day}) AS last_record
        FROM enc e LEFT JOIN fac f ON f.code = e.facility_code
        WHERE e.{day} BETWEEN ? AND ? AND (? IS NULL OR e.facility_code = ?)
        GROUP BY ALL ORDER BY e.facility_code
        """,  # noqa: S608
        [o.period.first_day, o.period.last_day, o.facility, o.facility],
    )
    for r in rows:
        r["commune_name"] = commune_label(r["commune_code"])
    return Report(
        "facilities", "Theo cơ sở", "By facility",
        ["facility_code", "name", "level", "commune_code", "commune_name", "wave", "registered", "records",
         "patients", "referral_records", "referred_in", "first_record", "last_record"],
        ["Mã CSKCB", "Tên cơ sở", "Tuyến", "Mã xã", "Xã / phường", "Đợt", "Đã đăng ký", "Hồ sơ", "Người bệnh",
         "Hồ sơ chuyển tuyến", "Hồ sơ được chuyển đến", "Hồ sơ đầu", "Hồ sơ cuối"], rows,
    )  # fmt: skip


def levels(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    day = _day_column(o.by)
    rows = _rows(
        cur,
        f"""
        SELECT f.level, count(DISTINCT e.facility_code) AS facilities, count(*) AS records,
               count(DISTINCT e.person_id) AS patients, count(*) FILTER (WHERE {_REFERRAL}) AS referral_records
        FROM enc e LEFT JOIN fac f ON f.code = e.facility_code
        WHERE e.{day} BETWEEN ? AND ? GROUP BY f.level ORDER BY f.level NULLS LAST
        """,  # noqa: S608
        [o.period.first_day, o.period.last_day],
    )
    for r in rows:
        r["level_vi"] = LEVELS[r["level"]][0] if r["level"] in LEVELS else "Chưa đăng ký"
    return Report(
        "levels", "Theo tuyến", "By level", ["level", "level_vi", "facilities", "records", "patients",
                                             "referral_records"],
        ["Tuyến (mã)", "Tuyến", "Cơ sở", "Hồ sơ", "Người bệnh", "Hồ sơ chuyển tuyến"], rows,
    )  # fmt: skip


def quality(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    rows = _rows(
        cur,
        f"""
        WITH e AS (SELECT facility_code, strftime(received_day, '%Y-%m') AS month, * EXCLUDE (facility_code)
                   FROM enc WHERE received_day BETWEEN ? AND ?),
        s AS (SELECT facility_code, strftime(received_day, '%Y-%m') AS month, count(*) AS submissions,
                     count(*) FILTER (WHERE outcome = 'rejected') AS submissions_rejected
              FROM sub WHERE received_day BETWEEN ? AND ? GROUP BY facility_code, month),
        i AS (SELECT facility_code, strftime(received_day, '%Y-%m') AS month, * EXCLUDE (facility_code)
              FROM iss WHERE received_day BETWEEN ? AND ?),
        rej AS (SELECT facility_code, month, count(DISTINCT (submission_id, hoso)) AS encounters_rejected
                FROM i WHERE severity = 'error' AND encounter_id IS NULL AND hoso IS NOT NULL
                GROUP BY facility_code, month),
        cnt AS (SELECT facility_code, month, count(*) FILTER (WHERE severity = 'warning') AS warnings,
                       count(*) FILTER (WHERE severity = 'error') AS errors,
                       count(DISTINCT encounter_id) FILTER (WHERE code = 'total_mismatch') AS totals_mismatch
                FROM i GROUP BY facility_code, month),
        top AS (SELECT facility_code, month,
                       string_agg(code || coalesce('/' || field_name, '') || ' ×' || n, '; ' ORDER BY n DESC, code)
                         FILTER (WHERE k <= 3) AS top_issues
                FROM (SELECT facility_code, month, code, field_name, count(*) AS n,
                             row_number() OVER (PARTITION BY facility_code, month
                                                ORDER BY count(*) DESC, code, field_name) AS k
                      FROM i GROUP BY facility_code, month, code, field_name) GROUP BY facility_code, month),
        ea AS (SELECT facility_code, month, count(*) AS encounters_stored,
                      count(*) FILTER (WHERE status = 'accepted_with_warnings') AS encounters_with_warnings,
                      avg(cccd_present::INT) AS cccd_present_rate,
                      avg(coalesce(cccd_valid, false)::INT) AS cccd_valid_rate,
                      {_linked_share("cccd")} AS linked_cccd,
                      {_linked_share("facility_code")} AS linked_facility_code,
                      {_linked_share("insurance_card")} AS linked_insurance_card,
                      {_linked_share("birth_certificate")} AS linked_birth_certificate,
                      {_linked_share("model")} AS linked_model,
                      avg((first_state = 'review')::INT) AS sent_to_review,
                      avg((first_rule = 'new_person')::INT) AS new_person,
                      median(received_day - discharge_day) AS late_days_median,
                      avg((received_day - discharge_day > 1)::INT) AS late_share
               FROM e GROUP BY facility_code, month),
        keys AS (SELECT facility_code, month FROM s UNION SELECT facility_code, month FROM ea
                 UNION SELECT facility_code, month FROM rej)
        SELECT k.facility_code, k.month, coalesce(s.submissions, 0) AS submissions,
               coalesce(s.submissions_rejected, 0) AS submissions_rejected,
               coalesce(ea.encounters_stored, 0) + coalesce(rej.encounters_rejected, 0) AS encounters_received,
               coalesce(rej.encounters_rejected, 0) AS encounters_rejected,
               coalesce(ea.encounters_with_warnings, 0) AS encounters_with_warnings,
               coalesce(cnt.warnings, 0) AS warnings, coalesce(cnt.errors, 0) AS errors, top.top_issues,
               round(ea.cccd_present_rate, 4) AS cccd_present_rate, round(ea.cccd_valid_rate, 4) AS cccd_valid_rate,
               round(ea.linked_cccd, 4) AS linked_cccd, round(ea.linked_facility_code, 4) AS linked_facility_code,
               round(ea.linked_insurance_card, 4) AS linked_insurance_card,
               round(ea.linked_birth_certificate, 4) AS linked_birth_certificate,
               round(ea.linked_model, 4) AS linked_model, round(ea.sent_to_review, 4) AS sent_to_review,
               round(ea.new_person, 4) AS new_person, ea.late_days_median, round(ea.late_share, 4) AS late_share,
               coalesce(cnt.totals_mismatch, 0) AS totals_mismatch
        FROM keys k
        LEFT JOIN s USING (facility_code, month) LEFT JOIN ea USING (facility_code, month)
        LEFT JOIN rej USING (facility_code, month) LEFT JOIN cnt USING (facility_code, month)
        LEFT JOIN top USING (facility_code, month)
        WHERE k.facility_code IS NOT NULL AND (? IS NULL OR k.facility_code = ?)
        ORDER BY k.facility_code, k.month
        """,  # noqa: S608 - the only interpolations are rule names from the policy
        [o.period.first_day, o.period.last_day] * 3 + [o.facility, o.facility],
    )
    return Report(
        "quality", "Chất lượng dữ liệu tại nguồn", "Data quality at source",
        ["facility_code", "month", "submissions", "submissions_rejected", "encounters_received",
         "encounters_rejected", "encounters_with_warnings", "warnings", "errors", "top_issues",
         "cccd_present_rate", "cccd_valid_rate", "linked_cccd", "linked_facility_code",
         "linked_insurance_card", "linked_birth_certificate", "linked_model", "sent_to_review", "new_person",
         "late_days_median", "late_share",
         "totals_mismatch"],
        ["Mã CSKCB", "Tháng nhận", "Lượt gửi", "Lượt gửi bị từ chối", "Hồ sơ nhận", "Hồ sơ bị từ chối",
         "Hồ sơ có cảnh báo", "Cảnh báo", "Lỗi", "Lỗi thường gặp", "Tỷ lệ có CCCD", "Tỷ lệ CCCD hợp lệ",
         "Liên kết theo CCCD", "Liên kết theo mã BN",
         "Liên kết theo mã BHXH và ngày sinh", "Liên kết theo giấy chứng sinh", "Liên kết theo mô hình",
         "Chờ rà soát", "Người mới",
         "Trễ gửi (trung vị, ngày)", "Tỷ lệ gửi trễ >1 ngày", "Tổng tiền không khớp"], rows,
        ["Tháng theo ngày hub nhận. Trễ gửi = ngày nhận − NGAY_RA."],
    )  # fmt: skip


def issues(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    rows = _rows(
        cur,
        """
        SELECT facility_code, strftime(received_day, '%Y-%m') AS month, severity, code, table_name, field_name,
               count(*) AS issues, count(DISTINCT coalesce(encounter_id, -submission_id * 1000 - coalesce(hoso, 0)))
                 AS encounters
        FROM iss WHERE received_day BETWEEN ? AND ? AND (? IS NULL OR facility_code = ?)
        GROUP BY ALL ORDER BY facility_code, month, issues DESC, code
        """,
        [o.period.first_day, o.period.last_day, o.facility, o.facility],
    )
    return Report(
        "issues", "Lỗi và cảnh báo theo mã và trường", "Issues by code and field",
        ["facility_code", "month", "severity", "code", "table_name", "field_name", "issues", "encounters"],
        ["Mã CSKCB", "Tháng nhận", "Mức", "Mã lỗi", "Bảng", "Trường", "Số lỗi", "Số hồ sơ"], rows,
    )  # fmt: skip


# A constant of this module (the referral predicate is one too).
_REFERRALS = f"""
WITH sent AS (
    SELECT id, facility_code AS sender, coalesce(letter_to, noi_den) AS receiver, person_id, discharge_day,
           visit_day, letter_no, icd
    FROM enc WHERE {_REFERRAL} AND visit_day BETWEEN ? AND ?),
arr AS (
    SELECT s.id, min(a.visit_day) AS arrived
    FROM sent s JOIN enc a ON a.facility_code = s.receiver AND a.person_id = s.person_id AND a.noi_di = s.sender
         AND (s.discharge_day IS NULL OR a.visit_day >= s.discharge_day)
         AND (s.letter_no IS NULL OR a.giay_chuyen_tuyen IS NULL OR a.giay_chuyen_tuyen = s.letter_no)
    GROUP BY s.id),
st AS (
    SELECT s.*, arr.arrived, arr.arrived - coalesce(s.discharge_day, s.visit_day) AS days_to_arrival,
           CASE WHEN arr.arrived IS NOT NULL THEN 'received'
                WHEN ?::DATE - coalesce(s.discharge_day, s.visit_day) > ? THEN 'overdue' ELSE 'pending' END AS status
    FROM sent s LEFT JOIN arr USING (id))
"""  # noqa: S608


def _referral_rows(cur: duckdb.DuckDBPyConnection, o: ReportOptions, keys: str) -> list[dict[str, Any]]:
    return _rows(
        cur,
        _REFERRALS  # noqa: S608 - keys come from this module
        + f"""
        SELECT {keys}, count(*) AS sent, count(*) FILTER (WHERE status = 'received') AS received,
               count(*) FILTER (WHERE status = 'pending') AS pending,
               count(*) FILTER (WHERE status = 'overdue') AS overdue,
               median(days_to_arrival) AS median_days_to_arrival
        FROM st LEFT JOIN fac fs ON fs.code = st.sender LEFT JOIN fac fr ON fr.code = st.receiver
        GROUP BY ALL ORDER BY ALL
        """,  # noqa: S608
        [o.period.first_day, o.period.last_day, o.today or date.today(), OVERDUE_DAYS],
    )


_COUNTS = ["sent", "received", "pending", "overdue", "median_days_to_arrival"]
_COUNT_LABELS = ["Chuyển đi", "Đã đến", "Đang chờ", "Quá hạn", "Thời gian đến (trung vị, ngày)"]


def referrals(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    rows = _referral_rows(cur, o, "sender, fs.level AS sender_level, receiver, fr.level AS receiver_level")
    for r in rows:
        r["direction"] = _direction(r["sender_level"], r["receiver_level"])
    return Report(
        "referrals", "Luồng chuyển tuyến (cơ sở × cơ sở)", "Referral flows (facility × facility)",
        ["sender", "sender_level", "receiver", "receiver_level", "direction", *_COUNTS],
        ["Nơi chuyển", "Tuyến nơi chuyển", "Nơi nhận", "Tuyến nơi nhận", "Hướng", *_COUNT_LABELS], rows,
        [f"Quá hạn: chưa đến sau {OVERDUE_DAYS} ngày."],
    )  # fmt: skip


def referral_levels(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    rows = _referral_rows(cur, o, "fs.level AS sender_level, fr.level AS receiver_level")
    for r in rows:
        r["direction"] = _direction(r["sender_level"], r["receiver_level"])
    return Report(
        "referral_levels", "Chuyển tuyến theo tuyến", "Referrals by level",
        ["sender_level", "receiver_level", "direction", *_COUNTS],
        ["Tuyến nơi chuyển", "Tuyến nơi nhận", "Hướng", *_COUNT_LABELS], rows,
    )  # fmt: skip


def referral_diagnoses(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    rows = _referral_rows(cur, o, "upper(left(icd, 3)) AS icd_group")
    return Report(
        "referral_diagnoses", "Chuyển tuyến theo nhóm chẩn đoán (ICD-10, 3 ký tự)", "Referrals by diagnosis group",
        ["icd_group", *_COUNTS], ["Nhóm ICD-10", *_COUNT_LABELS], rows,
    )  # fmt: skip


def _direction(sender: str | None, receiver: str | None) -> str:
    if sender not in LEVEL_RANK or receiver not in LEVEL_RANK:
        return "unknown"
    a, b = LEVEL_RANK[sender], LEVEL_RANK[receiver]
    return "up" if b > a else "down" if b < a else "same"


def surveillance(cur: duckdb.DuckDBPyConnection, o: ReportOptions) -> Report:
    return surveillance_rows(cur, o.period.first_day, o.period.last_day, suppress=o.suppress)


TABLES = {
    "totals": totals,
    "months": months,
    "waves": waves,
    "facilities": facilities,
    "levels": levels,
    "quality": quality,
    "issues": issues,
    "referrals": referrals,
    "referral_levels": referral_levels,
    "referral_diagnoses": referral_diagnoses,
    "surveillance": surveillance,
}


def build_report(*, engine: Engine, name: str, options: ReportOptions | None = None) -> Report:
    """Table ``name`` (one of :data:`TABLES`) for ``options``."""
    if name not in TABLES:
        raise NotFound(f"no report {name!r}; reports: {', '.join(TABLES)}", code="report_unknown")
    cur = facts_connection(engine)
    try:
        return TABLES[name](cur, options or ReportOptions())
    finally:
        cur.close()
