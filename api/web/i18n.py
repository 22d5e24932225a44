"""The message catalogue of every web page: one table, Vietnamese first, English available.

Pages call ``t("key")`` (or ``t("key", n=3)`` for ``str.format`` fields) through :func:`install`, which puts
``t``, ``lang`` and ``languages`` into every template. The language comes from the ``lang`` query
parameter (``?lang=en``, also remembered in the ``mpi_lang`` cookie by :func:`remember`), then the cookie,
then Vietnamese. A key missing from the table is a programming error: tests check that every key used by a
template exists in both languages.

Code labels of the standard (sex, encounter type, ICD-10...) are data, not messages: they live in
:mod:`mpi.records.codes` and :mod:`mpi.records.icd10`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

from mpi.facilities import Lang

LANGUAGES: Final[tuple[Lang, ...]] = ("vi", "en")
DEFAULT: Final[Lang] = "vi"
COOKIE: Final = "mpi_lang"

_M: dict[str, tuple[str, str]] = {
    # --- frame ---
    "app.title": ("Hồ sơ sức khỏe liên thông", "Shared health record"),
    "app.clinician": ("Bác sĩ", "Clinician"),
    "nav.search": ("Tìm người bệnh", "Find a patient"),
    "nav.referrals": ("Chuyển tuyến đến", "Incoming referrals"),
    "nav.appointments": ("Lịch hẹn khám lại", "Appointments"),
    "nav.sensitive_report": ("Truy cập dữ liệu nhạy cảm", "Sensitive access"),
    "nav.print": ("In", "Print"),
    "nav.language": ("English", "Tiếng Việt"),
    "nav.facility": ("Cơ sở", "Facility"),
    "nav.sign_out": ("Đăng xuất", "Sign out"),
    "login.key": ("Khóa API của bác sĩ", "Clinician API key"),
    "login.submit": ("Đăng nhập", "Sign in"),
    "login.invalid": ("Khóa API không hợp lệ.", "This API key is not valid."),
    "login.not_clinician": ("Trang này dành cho khóa của bác sĩ.", "This page is for clinician keys."),
    "error.purpose": (
        "Hãy chọn mục đích truy cập: đọc dữ liệu người bệnh cần có mục đích.",
        "Choose a purpose of use: reading patient data needs one.",
    ),
    # --- purposes of use ---
    "purpose.legend": ("Mục đích truy cập", "Purpose of use"),
    "purpose.TREAT": ("Điều trị", "Treatment"),
    "purpose.ETREAT": ("Cấp cứu", "Emergency treatment"),
    "purpose.COC": ("Phối hợp điều trị (chuyển tuyến)", "Coordination of care (referral)"),
    "purpose.CAREMGT": ("Quản lý chăm sóc", "Care management"),
    "purpose.PATRQT": ("Theo yêu cầu người bệnh", "Patient requested"),
    # --- search ---
    "search.identifier": ("Định danh", "Identifier"),
    "search.cccd": ("Số CCCD", "Citizen ID (CCCD)"),
    "search.bhxh": ("Mã BHXH / thẻ BHYT", "Social insurance no. / card"),
    "search.facility": ("Mã cơ sở", "Facility code"),
    "search.patient_code": ("Mã người bệnh (MA_BN)", "Patient code (MA_BN)"),
    "search.demographics": ("Thông tin hành chính", "Demographics"),
    "search.name": ("Họ tên", "Name"),
    "search.birth_date": ("Ngày sinh", "Date of birth"),
    "search.sex": ("Giới tính", "Sex"),
    "search.commune": ("Mã xã", "Commune code"),
    "search.submit": ("Tìm", "Search"),
    "search.candidates": ("Kết quả", "Candidates"),
    "search.none": ("Không tìm thấy ai phù hợp.", "No one matches."),
    "search.more": ("Còn nhiều kết quả khác: hãy thu hẹp tìm kiếm.", "More candidates exist: refine the search."),
    "search.person": ("Người bệnh", "Person"),
    "search.grade": ("Mức khớp", "Grade"),
    "search.recorded_at": ("Ghi nhận tại", "Recorded at"),
    "search.reason": ("Lý do", "Reason"),
    "grade.certain": ("chắc chắn", "certain"),
    "grade.probable": ("có khả năng", "probable"),
    "grade.possible": ("có thể", "possible"),
    # --- patient banner and person page ---
    "person.title": ("Hồ sơ người bệnh", "Patient record"),
    "person.unnamed": ("(chưa có tên)", "(no name)"),
    "person.age": ("{age} tuổi", "{age} years"),
    "person.born": ("Sinh", "Born"),
    "person.sex": ("Giới tính", "Sex"),
    "person.cccd": ("CCCD", "Citizen ID"),
    "person.bhxh": ("Mã BHXH", "Social insurance no."),
    "person.facilities_seen": ("Nơi đã khám", "Facilities seen"),
    "person.last_visit": ("Lần khám gần nhất", "Last visit"),
    "person.merged": ("Hồ sơ {old} đã được gộp vào hồ sơ này.", "Record {old} was merged into this one."),
    "person.as_recorded": ("Thông tin hành chính theo từng cơ sở", "As each facility recorded them"),
    "person.address": ("Địa chỉ", "Address"),
    "person.phone": ("Điện thoại", "Phone"),
    "person.recurring": ("Chẩn đoán lặp lại", "Recurring diagnoses"),
    "person.recurring_item": ("{n} lần, gần nhất {last}", "{n}×, last {last}"),
    "person.none": ("Không có", "None"),
    "person.medications": ("Thuốc đã dùng (mọi cơ sở)", "Medications (all facilities)"),
    "person.labs": ("Kết quả xét nghiệm", "Lab results"),
    "person.timeline": ("Quá trình khám chữa bệnh ({n} lượt)", "Timeline ({n} encounters)"),
    "person.filter": ("Lọc", "Filter"),
    "person.from": ("Từ ngày", "From"),
    "person.to": ("Đến ngày", "To"),
    "person.page": ("Trang {page}/{pages}", "Page {page} of {pages}"),
    "person.previous": ("Trang trước", "Previous"),
    "person.next": ("Trang sau", "Next"),
    "person.access_report": ("Ai đã xem hồ sơ này", "Who looked at this record"),
    # --- columns ---
    "col.date": ("Ngày", "Date"),
    "col.facility": ("Cơ sở", "Facility"),
    "col.type": ("Loại KCB", "Encounter type"),
    "col.diagnosis": ("Chẩn đoán", "Diagnosis"),
    "col.outcome": ("Kết quả điều trị", "Outcome"),
    "col.referral": ("Chuyển tuyến", "Referral"),
    "col.drug": ("Thuốc", "Drug"),
    "col.strength": ("Hàm lượng", "Strength"),
    "col.dose": ("Liều dùng", "Dose"),
    "col.route": ("Đường dùng", "Route"),
    "col.how": ("Cách dùng", "How to take"),
    "col.quantity": ("Số lượng", "Quantity"),
    "col.unit": ("Đơn vị", "Unit"),
    "col.prescribed": ("Ngày kê", "Prescribed"),
    "col.test": ("Xét nghiệm", "Test"),
    "col.value": ("Kết quả", "Value"),
    "col.last_value": ("Kết quả gần nhất", "Last value"),
    "col.trend": ("Diễn biến", "Trend"),
    "col.conclusion": ("Kết luận", "Conclusion"),
    "col.time": ("Thời gian", "Time"),
    "col.field": ("Trường", "Field"),
    "col.patient": ("Người bệnh", "Patient"),
    "col.status": ("Trạng thái", "Status"),
    "col.from_facility": ("Từ cơ sở", "From facility"),
    "col.appointment": ("Ngày hẹn", "Appointment"),
    "col.role": ("Vai trò", "Role"),
    "col.purpose": ("Mục đích", "Purpose"),
    "col.action": ("Thao tác", "Action"),
    "col.reason": ("Lý do", "Reason"),
    "col.categories": ("Loại dữ liệu", "Categories"),
    "col.reader": ("Người đọc", "Reader"),
    "col.encounters": ("Lượt khám", "Encounters"),
    "col.outcome_access": ("Kết quả", "Outcome"),
    "referral.in_from": ("Chuyển đến từ {f}", "In from {f}"),
    "referral.out_to": ("Chuyển đi {f}", "Out to {f}"),
    "referral.pending": ("Chưa đến", "Pending"),
    "referral.received": ("Đã đến", "Received"),
    "referral.overdue": ("Quá hạn", "Overdue"),
    "referrals.title": ("Người bệnh được chuyển đến cơ sở", "Referrals to this facility"),
    "referrals.none": ("Không có chuyển tuyến nào.", "No referrals."),
    "appointments.title": ("Lịch hẹn khám lại tại cơ sở", "Re-visit appointments at this facility"),
    "appointments.none": ("Không có lịch hẹn nào.", "No appointments."),
    # --- encounter ---
    "encounter.back": ("← Quay lại hồ sơ", "← Back to the record"),
    "encounter.title": ("Lượt khám", "Encounter"),
    "encounter.drugs": ("Thuốc", "Drugs"),
    "encounter.services": ("Dịch vụ kỹ thuật", "Services"),
    "encounter.labs": ("Kết quả cận lâm sàng", "Lab results"),
    "encounter.revealed": (
        "Dữ liệu nhạy cảm được mở bằng truy cập khẩn cấp; lượt xem đã được ghi nhật ký.",
        "Sensitive data opened by break-glass access; this view is audited.",
    ),
    # --- the standard's tables ---
    "section.XML1": ("Tổng hợp khám bệnh, chữa bệnh", "Encounter summary"),
    "section.XML2": ("Chi tiết thuốc", "Drugs"),
    "section.XML3": ("Dịch vụ kỹ thuật và vật tư y tế", "Services and supplies"),
    "section.XML4": ("Chi tiết cận lâm sàng", "Lab and imaging results"),
    "section.XML5": ("Diễn biến lâm sàng", "Progress notes"),
    "section.XML6": ("Hồ sơ chăm sóc và điều trị HIV/AIDS", "HIV/AIDS care record"),
    "section.XML7": ("Giấy ra viện", "Discharge paper"),
    "section.XML8": ("Tóm tắt hồ sơ bệnh án", "Record summary"),
    "section.XML9": ("Giấy chứng sinh", "Birth certificate"),
    "section.XML10": ("Giấy nghỉ dưỡng thai", "Pregnancy leave"),
    "section.XML11": ("Giấy chứng nhận nghỉ việc hưởng BHXH", "Sick leave certificate"),
    "section.XML12": ("Giám định y khoa", "Medical assessment"),
    "section.XML13": ("Giấy chuyển tuyến", "Referral letter"),
    "section.XML14": ("Giấy hẹn khám lại", "Re-visit appointment"),
    "section.XML15": ("Điều trị bệnh lao", "TB treatment"),
    # --- sensitive data ---
    "sensitive.withheld": (
        "Có {n} lượt khám chứa dữ liệu nhạy cảm đã được ẩn.",
        "{n} encounters with sensitive data are withheld.",
    ),
    "sensitive.explain": (
        "Theo Luật Phòng, chống HIV/AIDS, chỉ người trực tiếp điều trị mới được biết. Mở khi cấp cứu (mục đích "
        "Cấp cứu) hoặc khi khóa của bạn được cấp quyền, kèm lý do; mỗi lần mở được ghi nhật ký.",
        "By the HIV/AIDS law only those treating the person may learn it. Open it in an emergency (purpose "
        "Emergency treatment) or when your key is granted the category, with a reason; every opening is audited.",
    ),
    "sensitive.reason": ("Lý do mở (bắt buộc)", "Reason (required)"),
    "sensitive.open": ("Mở dữ liệu nhạy cảm", "Break the glass"),
    "sensitive.not_allowed": (
        "Không mở được: cần mục đích Cấp cứu hoặc quyền được cấp cho loại dữ liệu này.",
        "Not opened: this needs purpose Emergency treatment or a grant for the category.",
    ),
    "sensitive.revealed": (
        "Đã mở {n} lượt khám nhạy cảm (truy cập khẩn cấp, đã ghi nhật ký).",
        "{n} sensitive encounters opened (break-glass, audited).",
    ),
    "sensitive.marker": ("Nhạy cảm", "Sensitive"),
    "sensitive.report": ("Truy cập dữ liệu nhạy cảm của cơ sở", "Sensitive-data access at this facility"),
    "sensitive.report_none": ("Chưa có lượt truy cập khẩn cấp nào.", "No break-glass access yet."),
    "category.hiv": ("HIV/AIDS", "HIV/AIDS"),
    "category.tb": ("Lao", "Tuberculosis"),
    "category.mental_health": ("Sức khỏe tâm thần", "Mental health"),
    "category.reproductive_health": ("Sức khỏe sinh sản", "Reproductive health"),
    # --- access report ---
    "access.title": ("Ai đã xem hồ sơ của người bệnh", "Who looked at this patient's record"),
    "access.none": ("Chưa có ai xem.", "No one has looked yet."),
    "access.staff_hidden": ("nhân viên của cơ sở", "staff of the facility"),
    "outcome.ok": ("đã xem", "read"),
    "outcome.denied": ("bị từ chối", "denied"),
    "outcome.not_found": ("không tìm thấy", "not found"),
    "outcome.conflict": ("xung đột", "conflict"),
    "outcome.invalid": ("không hợp lệ", "invalid"),
    "outcome.error": ("lỗi", "error"),
    "role.clinician": ("Bác sĩ", "Clinician"),
    "role.steward": ("Quản lý dữ liệu", "Data steward"),
    "role.admin": ("Quản trị", "Administrator"),
    "role.analyst": ("Phân tích", "Analyst"),
    "role.submitter": ("Hệ thống gửi dữ liệu", "Submitting system"),
    "role.subscriber": ("Hệ thống nhận thay đổi", "Subscribing system"),
    # --- the administrator's pages (patient access report, sensitive access report) ---
    "admin.title": ("Quản trị: nhật ký truy cập", "Administration: access log"),
    "admin.key": ("Khóa API quản trị", "Administrator API key"),
    "admin.not_admin": ("Trang này dành cho khóa quản trị.", "This page is for administrator keys."),
    "admin.nav_access": ("Ai đã xem hồ sơ", "Who looked at a record"),
    "admin.nav_sensitive": ("Truy cập dữ liệu nhạy cảm", "Sensitive access"),
    "admin.person": ("Mã người bệnh (person id)", "Person id"),
    "admin.purpose": ("Mục đích", "Purpose"),
    "admin.show": ("Xem", "Show"),
    "admin.purpose.PATRQT": ("Theo yêu cầu người bệnh", "Patient requested"),
    "admin.purpose.HOPERAT": ("Vận hành cơ sở y tế", "Healthcare operations"),
    "admin.purpose.PATADMIN": ("Quản trị hồ sơ người bệnh", "Patient administration"),
    "admin.access_for": ("Người bệnh số {person}: {n} lượt truy cập", "Person {person}: {n} accesses"),
    "admin.merged": ("gồm cả hồ sơ đã gộp: {ids}", "including merged records: {ids}"),
    "admin.no_person": ("Không có người bệnh số {person}.", "There is no person {person}."),
    "admin.staff_note": (
        "Không nêu tên nhân viên: chỉ cơ sở, vai trò, mục đích và thời điểm.",
        "Staff are not named: only facility, role, purpose and time.",
    ),
    "admin.staff_shown": (
        "Theo chính sách của Sở, cột Người xem ghi tên người giữ khóa.",
        "By the department's policy, the Reader column names the key's holder.",
    ),
    "admin.sensitive_title": ("Báo cáo truy cập dữ liệu nhạy cảm", "Sensitive access report"),
    "admin.sensitive_note": (
        "Mọi lượt mở dữ liệu bị che (HIV, lao, sức khỏe tâm thần, sinh sản) bằng truy cập khẩn cấp, kèm lý do.",
        "Every break-glass opening of withheld data (HIV, TB, mental and reproductive health), with its reason.",
    ),
    "admin.sensitive_count": ("{n} lượt", "{n} openings"),
    "admin.filter_facility": ("Cơ sở của người xem (mã)", "Reader's facility (code)"),
    "admin.since": ("Từ ngày", "From"),
    "admin.until": ("Trước ngày", "Before"),
    "col.reader_facility": ("Cơ sở xem", "Reader's facility"),
    "col.what": ("Nội dung", "What"),
    "col.person": ("Người bệnh", "Person"),
    "action.summary": ("Tóm tắt hồ sơ", "Record summary"),
    "action.timeline": ("Dòng thời gian", "Timeline"),
    "action.encounter": ("Chi tiết lượt khám", "Encounter detail"),
    "action.search": ("Tìm kiếm", "Search"),
    "action.break_glass": ("Mở dữ liệu nhạy cảm", "Break-glass opening"),
    "action.referrals": ("Chuyển tuyến", "Referrals"),
    "action.appointments": ("Lịch hẹn", "Appointments"),
    "action.encounter_person": ("Tra người bệnh của lượt khám", "Encounter's person"),
    "action.fhir": ("Truy vấn FHIR", "FHIR read"),
    "action.steward": ("Quản lý định danh", "Identity stewardship"),
    "action.other": ("Khác", "Other"),
}

MESSAGES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {key: MappingProxyType(dict(zip(LANGUAGES, texts, strict=True))) for key, texts in _M.items()}
)


def gettext(lang: str, key: str, /, **fields: Any) -> str:
    """The message in ``lang`` (Vietnamese when the language is unknown); ``KeyError`` for an unknown key."""
    texts = MESSAGES[key]
    text = texts.get(lang, texts[DEFAULT])
    return text.format(**fields) if fields else text


def language(request: Request) -> Lang:
    chosen = request.query_params.get("lang") or request.cookies.get(COOKIE) or DEFAULT
    return "en" if chosen == "en" else "vi"


def remember(request: Request, response: Response) -> None:
    """Keep a language chosen with ``?lang=`` for the next pages."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True, path="/web")


def install(templates: Jinja2Templates) -> None:
    """Give every template ``t``, ``lang`` and ``languages`` for the request it renders."""

    def context(request: Request) -> dict[str, Any]:
        lang = language(request)
        return {"t": lambda key, **fields: gettext(lang, key, **fields), "lang": lang, "languages": LANGUAGES}

    templates.context_processors.append(context)
