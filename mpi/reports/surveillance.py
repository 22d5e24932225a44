"""Weekly surveillance of notifiable diseases by ICD-10 group and commune, with alerts.

Counts **persons**, not encounters: a person seen three times (or at three facilities) in a week for
dengue counts once, thanks to the MPI. The week is the ISO week (Monday) of NGAY_VAO; the commune is the
person's post-2025 commune of residence as the record states it (normalised; old codes mapped).

Alert method (EARS C2 with a floor): for week *t* the baseline is the 7 weeks *t-9 .. t-3* (two guard
weeks so that an outbreak's own start does not raise its baseline) of the same group and commune;
``expected`` is their mean μ and ``upper`` = μ + 3·max(σ, 1), σ their standard deviation floored at one
person so that single cases in a quiet commune do not alert. A week alerts when its count exceeds
``upper`` and is at least ``MIN_ALERT_PERSONS``. Weeks without 7 weeks of baseline have no expected range
and never alert. Province-wide rows (``commune_code = "all"``) follow the same rule.

Outside the department counts of 1..4 are suppressed (``suppress=True``): shown as empty, flagged.
"""

from __future__ import annotations

from datetime import date

import duckdb

from linkage import commune_name
from mpi.reports.report import Report

GROUPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "dengue": ("Sốt xuất huyết Dengue", "Dengue", ("A90", "A91", "A97")),
    "hfmd": ("Tay chân miệng", "Hand, foot and mouth disease", ("B084",)),
    "measles": ("Sởi", "Measles", ("B05",)),
    "influenza": ("Cúm / hội chứng cúm", "Influenza-like illness", ("J09", "J10", "J11")),
    "tb": ("Lao", "Tuberculosis", ("A15", "A16", "A17", "A18", "A19")),
    "diarrhoea": (
        "Tiêu chảy cấp",
        "Acute diarrhoea",
        ("A00", "A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09"),
    ),
    "chickenpox": ("Thủy đậu", "Chickenpox", ("B01",)),
}
"""Group -> (Vietnamese label, English label, ICD-10 prefixes without the dot)."""

BASELINE_WEEKS = 7
GUARD_WEEKS = 2
SD_FLOOR = 1.0
THRESHOLD_SD = 3.0
MIN_ALERT_PERSONS = 5
SUPPRESS_BELOW = 5


def icd_group(code: str | None) -> str | None:
    """The surveillance group of an ICD-10 code (``A90``, ``B08.4``...), or None."""
    if not code:
        return None
    folded = code.upper().replace(".", "").strip()
    for group, (_, _, prefixes) in GROUPS.items():
        if folded.startswith(prefixes):
            return group
    return None


def group_sql(icd: str) -> str:
    """A DuckDB expression: the surveillance group of the ICD-10 code in column ``icd`` (as :func:`icd_group`).

    The facts compute it once per snapshot (column ``disease_group``)."""
    folded = f"replace(upper(trim({icd})), '.', '')"
    whens = []
    for group, (_, _, prefixes) in GROUPS.items():
        tests = " OR ".join(f"starts_with({folded}, '{p}')" for p in prefixes)
        whens.append(f"WHEN {tests} THEN '{group}'")
    return "CASE " + " ".join(whens) + " END"


def commune_label(code: str | None) -> str | None:
    """A commune's post-2025 name for the reports (``all``: the whole province; ``unknown``: not stated)."""
    if code == "all":
        return "Toàn tỉnh"
    if code == "unknown":
        return "Không rõ xã"
    return commune_name(code)


def surveillance_rows(cur: duckdb.DuckDBPyConnection, first_day: date, last_day: date, *, suppress: bool) -> Report:
    lo, hi = GUARD_WEEKS + BASELINE_WEEKS, GUARD_WEEKS + 1
    sql = f"""
    WITH cases AS (
        SELECT person_id, coalesce(commune_code, 'unknown') AS commune_code,
               date_trunc('week', visit_day)::DATE AS week, disease_group AS grp
        FROM enc WHERE disease_group IS NOT NULL AND person_id IS NOT NULL),
    counts AS (
        SELECT week, grp, commune_code, count(DISTINCT person_id) AS n FROM cases GROUP BY ALL
        UNION ALL
        SELECT week, grp, 'all', count(DISTINCT person_id) FROM cases GROUP BY ALL),
    weeks AS (SELECT unnest(generate_series(min(week), max(week), INTERVAL 7 DAY))::DATE AS week FROM cases),
    series AS (SELECT DISTINCT grp, commune_code FROM counts),
    filled AS (
        SELECT w.week, s.grp, s.commune_code, coalesce(c.n, 0) AS n
        FROM weeks w CROSS JOIN series s LEFT JOIN counts c USING (week, grp, commune_code)),
    scored AS (
        SELECT *,
               avg(n) OVER win AS expected, stddev_samp(n) OVER win AS sd, count(n) OVER win AS baseline_weeks
        FROM filled
        WINDOW win AS (PARTITION BY grp, commune_code ORDER BY week ROWS BETWEEN {lo} PRECEDING AND {hi} PRECEDING))
    SELECT strftime(week, '%G-W%V') AS week, week AS week_start, grp AS "group", commune_code, n AS persons,
           CASE WHEN baseline_weeks = {BASELINE_WEEKS} THEN round(expected, 2) END AS expected,
           CASE WHEN baseline_weeks = {BASELINE_WEEKS}
                THEN round(expected + {THRESHOLD_SD} * greatest(coalesce(sd, 0), {SD_FLOOR}), 2) END AS upper,
           coalesce(baseline_weeks = {BASELINE_WEEKS} AND n >= {MIN_ALERT_PERSONS}
                    AND n > expected + {THRESHOLD_SD} * greatest(coalesce(sd, 0), {SD_FLOOR}), false) AS alert
    FROM scored
    WHERE week BETWEEN ? AND ? AND n > 0
    ORDER BY week, "group", commune_code = 'all' DESC, commune_code
    """  # noqa: S608 - group names and numbers are constants of this module
    rel = cur.execute(sql, [first_day, last_day])
    names = [d[0] for d in rel.description or []]
    rows = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
    for r in rows:
        r["group_vi"] = GROUPS[r["group"]][0]
        r["commune_name"] = commune_label(r["commune_code"])
        r["suppressed"] = suppress and 0 < r["persons"] < SUPPRESS_BELOW
        if r["suppressed"]:
            r["persons"] = None
    return Report(
        "surveillance", "Giám sát bệnh truyền nhiễm theo tuần", "Weekly surveillance of notifiable diseases",
        ["week", "week_start", "group", "group_vi", "commune_code", "commune_name", "persons", "expected", "upper",
         "alert", "suppressed"],
        ["Tuần", "Từ ngày", "Nhóm bệnh", "Tên nhóm", "Mã xã", "Xã / phường", "Số người bệnh", "Kỳ vọng", "Ngưỡng",
         "Cảnh báo", "Ẩn (<5)"], rows,
        ["Đếm người (MPI), không đếm lượt khám. Cảnh báo: EARS C2 — số tuần > trung bình 7 tuần (t-9..t-3) + "
         "3·max(độ lệch chuẩn, 1) và ≥ 5 người.",
         "Ngoài Sở Y tế, ô có 1–4 người được ẩn." if suppress else "Bản đầy đủ (trong Sở Y tế)."],
    )  # fmt: skip
