"""Encounters over time: who goes where, for what, and the XML 130 tables each visit produces.

Per person: acute visits at an age-dependent Poisson rate, chronic follow-ups for chronic conditions, TB
(XML15) and HIV (XML6) programme visits, deliveries with birth certificates (XML9) and newborn visits,
referrals up the levels (XML13) followed at the receiving facility by an encounter with MA_NOI_DI set,
appointments (XML14), inpatient stays with clinical progress (XML5), discharge papers (XML7) and summaries
(XML8). Money is computed in integer cents so every total adds up exactly (T_TONGCHI_BV = Σ THANH_TIEN_BV
of XML2 + XML3, T_BHTT = T_TONGCHI_BH − T_BNCCT, ...).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from synth import clinical as cx
from synth.config import SynthConfig
from synth.envelope_writer import INNER_XMLNS, INNER_XMLNS_MALFORMED, render_table
from synth.facilities import COMMUNE, PROVINCIAL, Facility, Province
from synth.noise import Identity, NoiseModel, dob_text
from synth.population import Person, permute

Row = dict[str, str]


@dataclass
class Encounter:
    """One rendered encounter (one HOSO) and what the ground truth says about it."""

    person: Person
    facility: Facility
    ma_lk: str
    start: datetime
    loai_kcb: str
    documents: list[tuple[str, str]]
    noise: list[str]
    referral_source: tuple[str, str] | None = None
    referral_to: str = ""

    @property
    def ngaylap(self) -> str:
        return f"{self.start:%Y%m%d}"


@dataclass
class _Visit:
    """What happens in a visit, before identity and rendering."""

    day: date
    facility: Facility
    loai_kcb: str
    dx: str
    secondary: list[str] = field(default_factory=list)
    days: int = 0
    kind: str = "acute"  # acute | chronic | refill | delivery | newborn | tb | hiv
    referred_from: Encounter | None = None
    refer_to: Facility | None = None
    emergency: bool = False


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _ts(moment: datetime) -> str:
    return f"{moment.year:04d}{moment.month:02d}{moment.day:02d}{moment.hour:02d}{moment.minute:02d}"


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


_ADMITTED_AS_IS = frozenset({"A90", "B05.9", "B08.4"})
_ACUTE_RATE = ((1, 6.0), (5, 4.0), (15, 1.6), (40, 1.4), (60, 2.0), (75, 2.6), (200, 3.0))


@dataclass
class _Costs:
    drugs: int = 0
    supplies: int = 0
    bv: int = 0
    bh: int = 0
    bntt: int = 0
    bncct: int = 0


class EncounterFactory:
    """Draws and renders a person's encounters; keeps the per-facility MA_LK counters."""

    def __init__(
        self,
        *,
        rng: random.Random,
        config: SynthConfig,
        province: Province,
        noise: NoiseModel,
        window_start: date,
        window_end: date,
        dx_rng: random.Random | None = None,
    ) -> None:
        self.rng = rng
        self.dx_rng = dx_rng or random.Random("diagnoses")  # noqa: S311 - synthetic data
        """Draws the notifiable diseases' share apart from ``rng`` (see :meth:`_acute_dx`)."""
        self.config = config
        self.province = province
        self.noise = noise
        self.start = window_start
        self.end = window_end
        self.window_days = (window_end - window_start).days
        self.counters: dict[str, int] = {}
        self._general = tuple(f for f in province.provincial if "general" in f.specialties)

    # --- planning ---------------------------------------------------------------------------------

    def encounters(self, person: Person) -> Iterator[Encounter]:
        visits = sorted(self._plan(person), key=lambda v: (v.day, v.facility.code))
        for visit in visits:
            enc = self._render(person, visit)
            yield enc
            if visit.refer_to is not None:
                yield self._render(person, self._receiving_visit(visit, enc))

    def extra_visit(self, person: Person, *, day: date, dx: str, facility: Facility) -> Encounter:
        """One outpatient visit outside the person's plan (an injected outbreak: synth.outbreak)."""
        return self._render(person, _Visit(day, facility, "01", dx))

    def _random_day(self, lo: date | None = None) -> date:
        lo = max(lo or self.start, self.start)
        span = (self.end - lo).days
        return lo + timedelta(days=self.rng.randrange(max(1, span)))

    def _plan(self, person: Person) -> list[_Visit]:
        rng, cfg = self.rng, self.config
        scale = cfg.visits_scale * self.window_days / 365.0
        visits: list[_Visit] = []
        born_in_window = person.dob >= self.start
        first_day = person.dob + timedelta(days=29) if born_in_window else self.start
        age = max(0, person.age_on(self.start))
        rate = next(r for upto, r in _ACUTE_RATE if age < upto)
        fraction = max(0.0, (self.end - first_day).days / max(1, self.window_days))
        for _ in range(_poisson(rng, rate * scale * fraction)):
            visits.append(self._acute(person, self._random_day(first_day)))
        # Programme visits of a child born inside the window start after its birth, never before.
        programme_from = first_day if born_in_window else None
        for cond in person.chronic:
            for _ in range(_poisson(rng, 5.0 * scale)):
                visits.append(self._chronic(person, cx.CHRONIC_DX[cond], self._random_day(programme_from)))
        if person.tb:
            tb_hosp = rng.choice(self.province.with_specialty("tb"))
            for _ in range(max(1, _poisson(rng, 4 * scale))):
                visits.append(
                    _Visit(
                        self._random_day(programme_from),
                        tb_hosp,
                        "02" if rng.random() < 0.5 else "01",
                        "A15.0",
                        kind="tb",
                    )
                )
        if person.hiv:
            hiv_site = rng.choice(self.province.with_specialty("hiv"))
            for _ in range(max(1, _poisson(rng, 4 * scale))):
                visits.append(_Visit(self._random_day(programme_from), hiv_site, "01", "B24", kind="hiv"))
        if person.newborns:
            visits.append(self._delivery(person))
        if born_in_window:
            for _ in range(rng.choice((1, 1, 2))):
                day = person.dob + timedelta(days=rng.randint(2, 26))
                site = rng.choice(self.province.with_specialty("paediatric"))
                dx = "P59.9" if rng.random() < 0.5 else "Z00.1"
                visits.append(_Visit(min(day, self.end - timedelta(days=1)), site, "01", dx, kind="newborn"))
        return visits

    def _pick_facility(self, person: Person, age: int) -> Facility:
        rng, prov = self.rng, self.province
        r = rng.random()
        if r < (0.35 if age < 6 else 0.25):
            return prov.station_for_commune[person.address.commune.new_code]
        if r < 0.55:
            return prov.centre_for_district[person.address.commune.old_district_code]
        if r < 0.75:
            return rng.choice(prov.private)
        if age < 16 and rng.random() < 0.7:
            return rng.choice(prov.with_specialty("paediatric"))
        return rng.choice(self._general)

    def _acute(self, person: Person, day: date) -> _Visit:
        rng, cfg = self.rng, self.config
        age = person.age_on(day)
        pool = cx.ACUTE_CHILD if age < 16 else (cx.ACUTE_ELDER if age >= 65 else cx.ACUTE_ADULT)
        facility = self._pick_facility(person, age)
        visit = _Visit(day, facility, "01", self._acute_dx(age, pool))
        if rng.random() < 0.25:
            visit.secondary.append(rng.choice(cx.SYMPTOMS))
        visit.secondary.extend(cx.CHRONIC_DX[c] for c in person.chronic)
        if facility.rank >= 2 and facility.level != "private" and rng.random() < (0.15 if age >= 65 else 0.08):
            visit.loai_kcb = "03"
            admitted = rng.choice(cx.INPATIENT_ACUTE)
            if visit.dx not in _ADMITTED_AS_IS:
                visit.dx = (
                    admitted
                    if admitted not in _ADMITTED_AS_IS
                    else self.dx_rng.choice([c for c in cx.INPATIENT_ACUTE if c not in _ADMITTED_AS_IS])
                )
            visit.days = rng.randint(2, 8)
            visit.emergency = rng.random() < 0.3
        elif facility.rank <= 2 and rng.random() < cfg.referral_share:
            visit.refer_to = self._referral_target(age)
        visit.secondary = [c for c in dict.fromkeys(visit.secondary) if c != visit.dx][:12]
        return visit

    def _acute_dx(self, age: int, pool: tuple[str, ...]) -> str:
        """A notifiable disease at its share of acute visits (:data:`clinical.NOTIFIABLE_ACUTE`), else one
        of the age group's other acute diagnoses. The main stream draws from the pool exactly as it always
        did (so persons and every other value stay the same for a seed); the rest uses ``dx_rng``."""
        common = self.rng.choice(pool)
        r = self.dx_rng.random()
        for code, share in cx.notifiable_shares(age):
            if r < share:
                return code
            r -= share
        if common in cx.NOTIFIABLE_CODES:
            return self.dx_rng.choice([c for c in pool if c not in cx.NOTIFIABLE_CODES])
        return common

    def _referral_target(self, age: int) -> Facility:
        if age < 16 and self.rng.random() < 0.6:
            return self.rng.choice(self.province.with_specialty("paediatric"))
        return self.rng.choice(self._general)

    def _chronic(self, person: Person, dx: str, day: date) -> _Visit:
        rng = self.rng
        registered = self.province.by_code.get(person.dkbd)
        facility = (
            registered
            if registered is not None and rng.random() < 0.6
            else self.province.centre_for_district[person.address.commune.old_district_code]
        )
        r = rng.random()
        loai, kind, days = (
            ("05", "chronic", 30)
            if r < 0.35
            else (("07", "refill", 30) if r < 0.5 else (("08", "chronic", 1) if r < 0.6 else ("01", "chronic", 0)))
        )
        visit = _Visit(day, facility, loai, dx, kind=kind, days=days)
        visit.secondary = [cx.CHRONIC_DX[c] for c in person.chronic if cx.CHRONIC_DX[c] != dx]
        if dx in ("I10", "E11.9") and rng.random() < 0.4:
            visit.secondary.append("E78.5")
        return visit

    def _delivery(self, mother: Person) -> _Visit:
        rng = self.rng
        birth = mother.newborns[0].dob
        sites = (
            *self.province.with_specialty("obstetric"),
            self.province.centre_for_district[mother.address.commune.old_district_code],
        )
        cesarean = rng.random() < 0.3 or len(mother.newborns) > 1
        return _Visit(
            max(self.start, birth - timedelta(days=rng.choice((0, 0, 1)))),
            rng.choice(sites),
            "03",
            "O82" if cesarean else "O80",
            days=5 if cesarean else 3,
            kind="delivery",
        )

    def _receiving_visit(self, sent: _Visit, enc: Encounter) -> _Visit:
        rng = self.rng
        assert sent.refer_to is not None
        inpatient = rng.random() < 0.4
        day = min(sent.day + timedelta(days=rng.choice((0, 0, 1))), self.end - timedelta(days=1))
        visit = _Visit(
            day,
            sent.refer_to,
            "03" if inpatient else "01",
            sent.dx,
            list(sent.secondary),
            days=rng.randint(2, 7) if inpatient else 0,
            referred_from=enc,
        )
        return visit

    # --- rendering --------------------------------------------------------------------------------

    def _next_ma_lk(self, facility: Facility, year: int) -> str:
        n = self.counters.get(facility.code, 0) + 1
        self.counters[facility.code] = n
        return facility.ma_lk(n, year)

    def _render(self, person: Person, v: _Visit) -> Encounter:
        rng = self.rng
        f = v.facility
        hour = rng.randint(7, 16) if not v.emergency else rng.randint(0, 23)
        start = datetime(v.day.year, v.day.month, v.day.day, hour, rng.randrange(60))
        if v.loai_kcb in ("03", "04", "06"):
            end = (start + timedelta(days=v.days - 1)).replace(hour=rng.randint(8, 11), minute=rng.randrange(60))
        elif v.loai_kcb == "05":
            end = start + timedelta(minutes=rng.randint(30, 180))
        else:
            end = start + timedelta(minutes=rng.randint(20, 240))
        if end.date() >= self.end:  # keep the whole stay inside the window
            end = datetime(self.end.year, self.end.month, self.end.day) - timedelta(minutes=1)
            start = min(start, end - timedelta(minutes=30))
        ma_lk = self._next_ma_lk(f, start.year)
        card = person.card_on(v.day)
        temp_card = "newborn" in person.tags and not person.has_card and (v.day - person.dob).days <= 28
        if temp_card:
            card = f"TE1{person.card_province}{person.bhxh}"
        muc = person.muc_huong(v.day)
        ident = Identity(
            ho_ten=person.name.full,
            so_cccd=person.cccd if person.has_card else "",
            ngay_sinh=dob_text(person),
            dien_thoai=person.phone,
            dia_chi="",
            matinh="",
            mahuyen="",
            maxa="",
            ma_the_bhyt=card,
            ma_bn=f.ma_bn(permute(person.idx, 10**9, int(f.code))),
            ma_nghe_nghiep=person.occupation,
        )
        noise = self.noise.apply(ident, person, f, v.day)
        doctor_i = rng.randrange(len(f.doctors))
        doctor = f.doctors[doctor_i]
        dept = self._dept(person, v)
        ctx = _Ctx(
            person=person,
            v=v,
            f=f,
            ma_lk=ma_lk,
            start=start,
            end=end,
            card=card,
            muc=muc,
            doctor=doctor,
            doctor_name=f.doctor_names[doctor_i],
            dept=dept,
            ident=ident,
            temp_card=temp_card,
        )
        drugs, costs = self._drugs(ctx)
        services = self._services(ctx, costs)
        documents: list[tuple[str, str]] = []
        xmlns = ""
        if "export_inner_xmlns" in f.habits:
            xmlns = INNER_XMLNS_MALFORMED if self.config.inner_xmlns_malformed else INNER_XMLNS
            self.noise.habit("export_inner_xmlns", noise)
        labs = self._labs(ctx, services, noise)
        appointment = self._appointment(ctx)
        documents.append(("XML1", render_table("XML1", [self._xml1(ctx, costs, appointment)], xmlns=xmlns)))
        if drugs:
            if "export_undefined_ma_nhom" in f.habits:
                marks = self.noise.undefined_rows(len(drugs))
                for row, mark in zip(drugs, marks, strict=True):
                    if mark:
                        row["MA_NHOM"] = "undefined"
                if any(marks):
                    self.noise.habit("export_undefined_ma_nhom", noise)
            documents.append(("XML2", render_table("XML2", drugs, xmlns=xmlns)))
        if services:
            documents.append(("XML3", render_table("XML3", services, xmlns=xmlns)))
        if labs:
            documents.append(("XML4", render_table("XML4", labs, xmlns=xmlns)))
        if v.loai_kcb in ("02", "03", "04", "06"):
            documents.append(("XML5", render_table("XML5", self._progress(ctx), xmlns=xmlns)))
        if v.kind == "hiv":
            documents.append(("XML6", render_table("XML6", [self._hiv(ctx)], xmlns=xmlns)))
        if v.loai_kcb == "03":
            documents.append(("XML7", render_table("XML7", [self._discharge(ctx)], xmlns=xmlns)))
        if v.loai_kcb in ("03", "04", "06"):
            documents.append(("XML8", render_table("XML8", [self._summary(ctx)], xmlns=xmlns)))
        if v.kind == "delivery":
            documents.append(("XML9", render_table("XML9", self._births(ctx), xmlns=xmlns)))
        if v.refer_to is not None:
            documents.append(("XML13", render_table("XML13", [self._referral(ctx)], xmlns=xmlns)))
        if appointment is not None:
            row = self._appointment_row(ctx, appointment)
            if "export_ngay_hen_kl_8" in f.habits:
                row["NGAY_HEN_KL"] = row["NGAY_HEN_KL"][:8]
                self.noise.habit("export_ngay_hen_kl_8", noise)
            documents.append(("XML14", render_table("XML14", [row], xmlns=xmlns)))
        if v.kind == "tb":
            documents.append(("XML15", render_table("XML15", [self._tb(ctx)], xmlns=xmlns)))
        source = (v.referred_from.facility.code, v.referred_from.ma_lk) if v.referred_from else None
        return Encounter(
            person,
            f,
            ma_lk,
            start,
            v.loai_kcb,
            documents,
            noise,
            source,
            v.refer_to.code if v.refer_to else "",
        )

    def _dept(self, person: Person, v: _Visit) -> str:
        if v.loai_kcb not in ("03", "04", "06"):
            return cx.DEPT_EXAM
        if v.kind == "delivery":
            return cx.DEPT_BY_KIND["obstetric"]
        if v.dx in ("K35.8", "S52.5"):
            return cx.DEPT_BY_KIND["surgery"]
        if person.age_on(v.day) < 16:
            return cx.DEPT_BY_KIND["paediatric"]
        return cx.DEPT_BY_KIND["medical"]

    # --- detail tables ------------------------------------------------------------------------------

    def _item_costs(self, ctx: _Ctx, qty: int, price: int, costs: _Costs) -> dict[str, str]:
        bv = qty * price * 100
        if ctx.card:
            bh = bv
            bncct = (bh * (100 - ctx.muc) + 50) // 100
        else:
            bh = bncct = 0
        bntt = bv - bh
        costs.bv += bv
        costs.bh += bh
        costs.bntt += bntt
        costs.bncct += bncct
        return {
            "THANH_TIEN_BV": _money(bv),
            "THANH_TIEN_BH": _money(bh),
            "T_NGUONKHAC_NSNN": "0.00",
            "T_NGUONKHAC_VTNN": "0.00",
            "T_NGUONKHAC_VTTN": "0.00",
            "T_NGUONKHAC_CL": "0.00",
            "T_NGUONKHAC": "0.00",
            "MUC_HUONG": str(ctx.muc) if ctx.card else "0",
            "T_BNTT": _money(bntt),
            "T_BNCCT": _money(bncct),
            "T_BHTT": _money(bh - bncct),
            "TYLE_TT_BH": "100" if ctx.card else "0",
        }

    def _drugs(self, ctx: _Ctx) -> tuple[list[Row], _Costs]:
        rng, v = self.rng, ctx.v
        costs = _Costs()
        codes: list[str] = []
        if v.kind == "delivery":
            codes = list(cx.DRUGS_FOR["delivery"])
        elif v.kind == "newborn":
            codes = list(cx.DRUGS_FOR["newborn"]) if v.dx == "P59.9" else []
        elif v.dx in cx.DRUGS_FOR:
            codes = list(cx.DRUGS_FOR[v.dx][: rng.randint(1, len(cx.DRUGS_FOR[v.dx]))])
        elif v.dx in cx.DX_DRUG_CLASS:
            pool = cx.DRUGS_FOR[cx.DX_DRUG_CLASS[v.dx]]
            codes = rng.sample(pool, rng.randint(1, min(3, len(pool))))
        if v.loai_kcb == "03" and v.kind != "delivery":
            codes += list(cx.DRUGS_FOR["inpatient"])
        if v.kind in ("chronic", "refill"):
            for code in v.secondary:
                if code in cx.DRUGS_FOR and rng.random() < 0.7:
                    codes.append(cx.DRUGS_FOR[code][0])
        rows: list[Row] = []
        days = (
            v.days
            if v.loai_kcb in ("05", "07")
            else (max(1, v.days) if v.loai_kcb == "03" else rng.choice((3, 5, 5, 7)))
        )
        order_time = ctx.start + timedelta(minutes=rng.randint(10, 60))
        for i, code in enumerate(dict.fromkeys(codes), start=1):
            d = cx.DRUGS[code]
            per_day = d.per_day
            qty = (
                per_day * days
                if d.unit in ("Viên", "Gói")
                else max(1, per_day * (days if d.unit != "Bình xịt" else 1) // 2)
            )
            row: Row = {
                "MA_LK": ctx.ma_lk,
                "STT": str(i),
                "MA_THUOC": d.code,
                "MA_NHOM": "4",
                "TEN_THUOC": d.name,
                "DON_VI_TINH": d.unit,
                "HAM_LUONG": d.strength,
                "DUONG_DUNG": d.route,
                "DANG_BAO_CHE": d.form,
                "LIEU_DUNG": f"1 {d.unit.lower()}/lần * {per_day} lần/ngày * {days} ngày [{per_day} "
                f"{d.unit.lower()}/ngày]",
                "CACH_DUNG": "Uống sau ăn" if d.route == "1.01" else "Theo chỉ định",
                "SO_DANG_KY": d.registration,
                "TT_THAU": f"{120 + i}/QĐ-SYT;G1;N4;2025",
                "PHAM_VI": "1",
                "SO_LUONG": f"{qty}.000",
                "DON_GIA": f"{d.price}.000",
                "MA_KHOA": ctx.dept,
                "MA_BAC_SI": ctx.doctor,
                "NGAY_YL": _ts(order_time),
                "NGAY_TH_YL": _ts(order_time + timedelta(minutes=15)),
                "MA_PTTT": "1",
                "NGUON_CTRA": "1",
            }
            row.update(self._item_costs(ctx, qty, d.price, costs))
            costs.drugs += qty * d.price * 100
            rows.append(row)
        return rows, costs

    def _services(self, ctx: _Ctx, costs: _Costs) -> list[Row]:
        rng, v, f = self.rng, ctx.v, ctx.f
        items: list[tuple[cx.Service, int]] = []
        if v.loai_kcb != "07":
            if f.level == COMMUNE:
                exam = "02.1900"
            else:
                exam = next(
                    (cx.EXAM_FOR_SPECIALTY[s] for s in sorted(f.specialties) if s in cx.EXAM_FOR_SPECIALTY),
                    "02.1896",
                )
                if ctx.person.age_on(v.day) < 16 and f.level == PROVINCIAL:
                    exam = "02.1897"
            items.append((cx.SERVICES[exam], 1))
        if f.level != COMMUNE or v.kind == "tb":
            labs = cx.LABS_FOR.get(v.dx, ())
            if v.kind in ("chronic", "refill") and rng.random() < 0.6:
                labs = ()
            for code in labs:
                items.append((cx.SERVICES[code], 1))
        if v.kind == "delivery":
            items.append((cx.SERVICES["12.0305.0447" if v.dx == "O82" else "13.0098.0591"], 1))
            items.append((cx.SUPPLY, 4))
        if v.dx == "K35.8" and v.loai_kcb == "03":
            items.append((cx.SERVICES["10.0525.0531"], 1))
            items.append((cx.SUPPLY, 6))
        if v.dx == "S61.0":
            items.append((cx.SERVICES["03.3911.0212"], 1))
        if v.loai_kcb == "03":
            items.append((cx.BED_DAY, max(1, v.days - 1)))
        rows: list[Row] = []
        for i, (s, qty) in enumerate(items, start=1):
            order = ctx.start + timedelta(minutes=5 + 10 * i)
            row: Row = {
                "MA_LK": ctx.ma_lk,
                "STT": str(i),
                "MA_DICH_VU": s.code if s.group != 10 else "",
                "MA_VAT_TU": s.code if s.group == 10 else "",
                "TEN_VAT_TU": s.name if s.group == 10 else "",
                "MA_NHOM": str(s.group),
                "TEN_DICH_VU": s.name if s.group != 10 else "",
                "DON_VI_TINH": s.unit,
                "PHAM_VI": "1",
                "SO_LUONG": str(qty),
                "DON_GIA_BV": f"{s.price}.00",
                "DON_GIA_BH": f"{s.price}.00",
                "TYLE_TT_DV": "100",
                "MA_KHOA": ctx.dept,
                "MA_BAC_SI": ctx.doctor,
                "NGUOI_THUC_HIEN": ctx.doctor if s.group == 13 else rng.choice(ctx.f.doctors),
                "NGAY_YL": _ts(order),
                "NGAY_TH_YL": _ts(order + timedelta(minutes=5)),
                "MA_PTTT": "1",
            }
            if s.group in (1, 2):
                row["NGAY_KQ"] = _ts(order + timedelta(minutes=40))
            if s.group == 15:
                row["MA_GIUONG"] = f"{f.bed_prefix}{rng.randrange(1, 300):03d}"
                row["NGAY_YL"] = _ts(ctx.start)
                row["NGAY_TH_YL"] = _ts(ctx.start)
            if s.group == 8:
                row["PP_VO_CAM"] = "1" if v.dx in ("O82", "K35.8") else "4"
            row.update(self._item_costs(ctx, qty, s.price, costs))
            if s.group == 10:
                costs.supplies += qty * s.price * 100
            rows.append(row)
        return rows

    def _labs(self, ctx: _Ctx, services: list[Row], noise: list[str]) -> list[Row]:
        rng = self.rng
        rows: list[Row] = []
        undefined = "export_undefined_bs_doc_kq" in ctx.f.habits
        marked = False
        for s_row in services:
            service = cx.SERVICES.get(s_row["MA_DICH_VU"])
            if service is None or service.group not in (1, 2):
                continue
            reader = rng.choice(ctx.f.doctors)
            if undefined and rng.random() < self.config.undefined_row_share:
                reader = "undefined"
                marked = True
            if service.indices:
                for ix in service.indices:
                    value = self._lab_value(ctx, ix)
                    rows.append(
                        {
                            "MA_LK": ctx.ma_lk,
                            "STT": str(len(rows) + 1),
                            "MA_DICH_VU": service.code,
                            "MA_CHI_SO": ix.code,
                            "TEN_CHI_SO": ix.name,
                            "GIA_TRI": value,
                            "DON_VI_DO": ix.unit,
                            "NGAY_KQ": s_row["NGAY_KQ"],
                            "MA_BS_DOC_KQ": reader,
                        }
                    )
            elif service.imaging_text:
                desc, concl = service.imaging_text.split("|")
                rows.append(
                    {
                        "MA_LK": ctx.ma_lk,
                        "STT": str(len(rows) + 1),
                        "MA_DICH_VU": service.code,
                        "MO_TA": desc,
                        "KET_LUAN": concl,
                        "NGAY_KQ": s_row["NGAY_KQ"],
                        "MA_BS_DOC_KQ": reader,
                    }
                )
        if marked:
            self.noise.habit("export_undefined_bs_doc_kq", noise)
        return rows

    def _lab_value(self, ctx: _Ctx, ix: cx.Index) -> str:
        rng = self.rng
        if ix.code == "V01":
            return "Dương tính" if ctx.v.kind == "tb" and rng.random() < 0.7 else "Âm tính"
        lo, hi = ix.low, ix.high
        abnormal = (
            (ix.code == "B04" and "E11.9" in (ctx.v.dx, *ctx.v.secondary))
            or (ix.code == "B15" and "E78.5" in ctx.v.secondary)
            or (ix.code == "H17" and ctx.v.dx in ("J18.9", "K35.8"))
        )
        if abnormal:
            lo, hi = hi, hi * 1.6
        value = rng.uniform(lo, hi)
        return f"{value:.{ix.decimals}f}"

    def _progress(self, ctx: _Ctx) -> list[Row]:
        rng = self.rng
        rows: list[Row] = []
        days = max(1, (ctx.end.date() - ctx.start.date()).days + 1)
        for i in range(min(days, 10)):
            moment = ctx.start + timedelta(days=i, hours=1)
            vitals = (
                f"CSST<M{rng.randint(65, 100)}_T{rng.choice(('36.8', '37', '37.5', '38.2'))}_HA"
                f"{rng.randint(100, 150)}/{rng.randint(60, 95)}_NT{rng.randint(16, 22)}"
                f"_SP{rng.randint(94, 99)}"
                f"_HL{rng.randint(2, 3)}>"
            )
            text = "Người bệnh tỉnh, tiếp xúc tốt." if i else "Vào viện: " + cx.DX[ctx.v.dx].label + "."
            rows.append(
                {
                    "MA_LK": ctx.ma_lk,
                    "STT": str(i + 1),
                    "DIEN_BIEN_LS": f"{text} {vitals}",
                    "THOI_DIEM_DBLS": _ts(min(moment, ctx.end)),
                    "NGUOI_THUC_HIEN": ctx.doctor,
                }
            )
        return rows

    def _appointment(self, ctx: _Ctx) -> datetime | None:
        v = ctx.v
        if v.refer_to is not None or v.kind in ("refill", "newborn"):
            return None
        share = 0.9 if v.kind in ("chronic", "tb", "hiv") else self.config.appointment_share
        if self.rng.random() >= share:
            return None
        delay = 30 if v.kind in ("chronic", "tb", "hiv") else self.rng.choice((5, 7, 7, 14))
        return (ctx.end + timedelta(days=delay)).replace(hour=7, minute=30)

    # --- single-record tables ---------------------------------------------------------------------

    def _diagnosis_text(self, v: _Visit) -> str:
        return "; ".join(cx.DX[c].label for c in (v.dx, *v.secondary))

    def _xml1(self, ctx: _Ctx, costs: _Costs, appointment: datetime | None) -> Row:
        rng, v, p, f, ident = self.rng, ctx.v, ctx.person, ctx.f, ctx.ident
        card = ctx.card
        newborn_card = ctx.temp_card
        if not card:
            doituong = "9"
        elif v.referred_from is not None:
            doituong = "1.3"
        elif v.emergency:
            doituong = "2"
        elif newborn_card:
            doituong = "1.7"
        elif v.kind == "tb":
            doituong = "1.8"
        elif v.kind == "hiv":
            doituong = "1.9"
        elif v.loai_kcb == "07":
            doituong = "7.1"
        else:
            doituong = "1.1" if f.code == p.dkbd else ("1.2" if f.level != PROVINCIAL else "3.3")
        los = (ctx.end.date() - ctx.start.date()).days + 1
        so_ngay = {"01": 0, "07": 0, "09": 0, "05": v.days, "08": 1}.get(v.loai_kcb, los)
        weight = self._weight(p, v.day)
        inpatient = v.loai_kcb in ("02", "03", "04", "06")
        kq = "1" if v.kind == "delivery" else rng.choice(("1", "2", "2", "3") if inpatient else ("2", "2", "1", "7"))
        if v.refer_to is not None:
            kq = rng.choice(("3", "4"))
        pay = ctx.end + timedelta(minutes=10)
        newborns = p.newborns if v.kind == "delivery" else []
        row: Row = {
            "MA_LK": ctx.ma_lk,
            "STT": "1",
            "MA_BN": ident.ma_bn,
            "HO_TEN": ident.ho_ten,
            "SO_CCCD": ident.so_cccd,
            "NGAY_SINH": ident.ngay_sinh,
            "GIOI_TINH": str(p.sex),
            "MA_QUOCTICH": "000",
            "MA_DANTOC": p.ethnicity,
            "MA_NGHE_NGHIEP": ident.ma_nghe_nghiep,
            "DIA_CHI": ident.dia_chi,
            "MATINH_CU_TRU": ident.matinh,
            "MAHUYEN_CU_TRU": ident.mahuyen,
            "MAXA_CU_TRU": ident.maxa,
            "DIEN_THOAI": ident.dien_thoai,
            "MA_THE_BHYT": ident.ma_the_bhyt,
            "MA_DKBD": ("33000" if newborn_card else p.dkbd) if card else "",
            "GT_THE_TU": (f"{p.dob:%Y%m%d}" if newborn_card else f"{v.day.year}0101") if card else "",
            "GT_THE_DEN": (f"{p.dob.year + 6}{p.dob:%m%d}" if newborn_card else f"{v.day.year}1231") if card else "",
            "LY_DO_VV": cx.DX[v.dx].label if v.kind != "refill" else "Lĩnh thuốc theo hẹn",
            "LY_DO_VNT": cx.DX[v.dx].label if inpatient else "",
            "MA_LY_DO_VNT": v.dx if inpatient and len(v.dx) <= 5 else "",
            "CHAN_DOAN_VAO": cx.DX[v.dx].label,
            "CHAN_DOAN_RV": self._diagnosis_text(v),
            "MA_BENH_CHINH": v.dx,
            "MA_BENH_KT": ";".join(v.secondary),
            "MA_DOITUONG_KCB": doituong,
            "MA_NOI_DI": v.referred_from.facility.code if v.referred_from else "",
            "MA_NOI_DEN": v.refer_to.code if v.refer_to else "",
            "NGAY_VAO": _ts(ctx.start),
            "NGAY_VAO_NOI_TRU": _ts(ctx.start + timedelta(minutes=30)) if inpatient else "",
            "NGAY_RA": _ts(ctx.end),
            "GIAY_CHUYEN_TUYEN": _referral_number(v.referred_from) if v.referred_from else "",
            "SO_NGAY_DTRI": str(so_ngay),
            "PP_DIEU_TRI": "Điều trị nội khoa"
            if v.kind != "delivery"
            else ("Phẫu thuật lấy thai" if v.dx == "O82" else "Đẻ thường"),
            "KET_QUA_DTRI": kq,
            "MA_LOAI_RV": "2" if v.refer_to is not None else "1",
            "GHI_CHU": "Tái khám theo hẹn" if appointment else "Về theo dõi tại nhà",
            "NGAY_TTOAN": _ts(pay),
            "T_THUOC": _money(costs.drugs),
            "T_VTYT": _money(costs.supplies),
            "T_TONGCHI_BV": _money(costs.bv),
            "T_TONGCHI_BH": _money(costs.bh),
            "T_BNTT": _money(costs.bntt),
            "T_BNCCT": _money(costs.bncct),
            "T_BHTT": _money(costs.bh - costs.bncct),
            "T_NGUONKHAC": "0.00",
            "T_BHTT_GDV": "0.00",
            "NAM_QT": str(pay.year),
            "THANG_QT": f"{pay.month:02d}",
            "MA_LOAI_KCB": v.loai_kcb,
            "MA_KHOA": ctx.dept if ctx.dept == cx.DEPT_EXAM else f"{cx.DEPT_EXAM};{ctx.dept}",
            "MA_CSKCB": f.code,
            "CAN_NANG": weight,
            "CAN_NANG_CON": ";".join(str(self._birth_weight(b)) for b in newborns),
            "NGAY_TAI_KHAM": f"{appointment:%Y%m%d}" if appointment else "",
            "MA_HSBA": f"{'BA' if inpatient else 'PK'}{ctx.ma_lk}"[:100],
            "MA_TTDV": f.head_bhxh,
        }
        return row

    def _weight(self, p: Person, day: date) -> str:
        age_days = (day - p.dob).days
        if age_days < 365:
            kg = 3.2 + age_days * 0.018
        elif age_days < 16 * 365:
            kg = 9 + (age_days / 365) * 2.6
        else:
            kg = (62 if p.sex == 1 else 52) + (p.idx % 17) - 8
        return f"{kg:.2f}"

    def _birth_weight(self, baby: Person) -> int:
        return 2400 + (baby.idx * 7919) % 1600

    def _discharge(self, ctx: _Ctx) -> Row:
        v, p, f = ctx.v, ctx.person, ctx.f
        child = p.age_on(v.day) < 16
        row: Row = {
            "MA_LK": ctx.ma_lk,
            "SO_LUU_TRU": f"LT{ctx.ma_lk}"[:200],
            "MA_YTE": ctx.ident.ma_bn,
            "MA_KHOA_RV": ctx.dept,
            "NGAY_VAO": _ts(ctx.start),
            "NGAY_RA": _ts(ctx.end),
            "MA_DINH_CHI_THAI": "0",
            "CHAN_DOAN_RV": self._diagnosis_text(v)[:1500],
            "PP_DIEUTRI": "Điều trị nội khoa"[:1500],
            "GHI_CHU": "Tái khám khi có dấu hiệu bất thường",
            "MA_TTDV": f.head_bhxh,
            "MA_BS": f"{f.code[:2]}{permute(int(ctx.doctor[:6]), 10**8):08d}",
            "TEN_BS": ctx.doctor_name,
            "NGAY_CT": f"{ctx.end:%Y%m%d}",
        }
        if v.kind == "delivery":
            row["TUOI_THAI"] = str(self.rng.randint(37, 40))
        if child and p.mother is not None and p.father is not None:
            row["MA_CHA"], row["MA_ME"] = p.father.bhxh, p.mother.bhxh
            row["HO_TEN_CHA"], row["HO_TEN_ME"] = p.father.name.full, p.mother.name.full
        elif p.card_group in ("DN", "HC") and v.kind != "delivery":
            row["SO_NGAY_NGHI"] = str(max(1, (ctx.end.date() - ctx.start.date()).days))
        return row

    def _summary(self, ctx: _Ctx) -> Row:
        v, p = ctx.v, ctx.person
        row: Row = {
            "MA_LK": ctx.ma_lk,
            "MA_LOAI_KCB": v.loai_kcb,
            "NGAY_VAO": _ts(ctx.start),
            "NGAY_RA": _ts(ctx.end),
            "CHAN_DOAN_VAO": cx.DX[v.dx].label,
            "CHAN_DOAN_RV": self._diagnosis_text(v),
            "QT_BENHLY": "Diễn biến ổn định, đáp ứng điều trị.",
            "TOMTAT_KQ": "Các xét nghiệm trong giới hạn theo dõi.",
            "PP_DIEUTRI": "Điều trị nội khoa",
            "KET_QUA_DTRI": "1" if v.kind == "delivery" else "2",
            "MA_TTDV": ctx.f.head_bhxh,
            "NGAY_CT": f"{ctx.end:%Y%m%d}",
        }
        if v.kind == "delivery":
            row["NGAY_SINHCON"] = f"{p.newborns[0].dob:%Y%m%d}"
        if p.age_on(v.day) < 16 and p.mother is not None and p.father is not None:
            row["HO_TEN_CHA"], row["HO_TEN_ME"] = p.father.name.full, p.mother.name.full
        return row

    def _births(self, ctx: _Ctx) -> list[Row]:
        rng, mother, f = self.rng, ctx.person, ctx.f
        babies = mother.newborns
        rows: list[Row] = []
        living = 1 + sum(1 for _ in range(rng.choice((0, 0, 1, 1, 2))))
        for baby in babies:
            h, m = baby.birth_time
            father = baby.father
            rows.append(
                {
                    "MA_LK": ctx.ma_lk,
                    "MA_BHXH_NND": mother.bhxh,
                    "MA_THE_NND": ctx.card,
                    "HO_TEN_NND": mother.name.full,
                    "NGAYSINH_NND": f"{mother.dob:%Y%m%d}",
                    "MA_DANTOC_NND": mother.ethnicity,
                    "SO_CCCD_NND": mother.cccd,
                    "NGAYCAP_CCCD_NND": f"{2021 + mother.idx % 4}0{1 + mother.idx % 9}15",
                    "NOICAP_CCCD_NND": "Cục Cảnh sát quản lý hành chính về trật tự xã hội",
                    "NOI_CU_TRU_NND": mother.address.text(legacy=False),
                    "MA_QUOCTICH": "000",
                    "MATINH_CU_TRU": "33",
                    "MAXA_CU_TRU": mother.address.commune.new_code,
                    "HO_TEN_CHA": father.name.full if father else "",
                    "MA_THE_TAM": f"TE1{baby.card_province}{baby.bhxh}",
                    "HO_TEN_CON": baby.name.full,
                    "GIOI_TINH_CON": str(baby.sex),
                    "SO_CON": str(len(babies)),
                    "LAN_SINH": str(living),
                    "SO_CON_SONG": str(living - 1 + len(babies)),
                    "CAN_NANG_CON": str(self._birth_weight(baby)),
                    "NGAY_SINH_CON": f"{baby.dob:%Y%m%d}{h:02d}{m:02d}",
                    "NOI_SINH_CON": f.name,
                    "TINH_TRANG_CON": "Khỏe mạnh",
                    "SINHCON_PHAUTHUAT": "1" if ctx.v.dx == "O82" else "0",
                    "SINHCON_DUOI32TUAN": "0",
                    "NGUOI_DO_DE": ctx.doctor_name,
                    "NGUOI_GHI_PHIEU": rng.choice(f.doctor_names),
                    "NGAY_CT": f"{ctx.end:%Y%m%d}",
                    "SO": f"{rng.randrange(1, 9999):04d}",
                    "QUYEN_SO": f"{ctx.end.year}",
                    "MA_TTDV": f.head_bhxh,
                }
            )
        return rows

    def _referral(self, ctx: _Ctx) -> Row:
        v, p, ident = ctx.v, ctx.person, ctx.ident
        assert v.refer_to is not None
        number = f"{ctx.f.code}/{ctx.ma_lk}"
        return {
            "MA_LK": ctx.ma_lk,
            "SO_HOSO": f"HS{ctx.ma_lk}"[:50],
            "SO_CHUYENTUYEN": f"{ctx.ma_lk}"[:50],
            "GIAY_CHUYEN_TUYEN": number[:50],
            "MA_CSKCB": ctx.f.code,
            "MA_NOI_DI": ctx.f.code,
            "MA_NOI_DEN": v.refer_to.code,
            "HO_TEN": ident.ho_ten,
            "NGAY_SINH": ident.ngay_sinh,
            "GIOI_TINH": str(p.sex),
            "MA_QUOCTICH": "000",
            "MA_DANTOC": p.ethnicity,
            "MA_NGHE_NGHIEP": ident.ma_nghe_nghiep,
            "DIA_CHI": ident.dia_chi,
            "MA_THE_BHYT": ident.ma_the_bhyt,
            "GT_THE_DEN": f"{v.day.year}1231" if ctx.card else "",
            "NGAY_VAO": _ts(ctx.start),
            "NGAY_RA": _ts(ctx.end),
            "DAU_HIEU_LS": "Sốt, mệt mỏi",
            "CHAN_DOAN_RV": self._diagnosis_text(v),
            "QT_BENHLY": "Điều trị tại cơ sở không cải thiện",
            "TOMTAT_KQ": "Chưa làm xét nghiệm chuyên sâu",
            "PP_DIEUTRI": "Điều trị triệu chứng",
            "MA_BENH_CHINH": v.dx,
            "MA_BENH_KT": ";".join(v.secondary),
            "TEN_DICH_VU": "Khám bệnh",
            "PP_DIEU_TRI": "Điều trị nội khoa",
            "MA_LOAI_RV": "2",
            "MA_LYDO_CT": self.rng.choice(("1", "2")),
            "HUONG_DIEU_TRI": "Chuyển tuyến trên chẩn đoán và điều trị",
            "PHUONGTIEN_VC": self.rng.choice(("Xe cứu thương", "Tự túc")),
            "MA_BAC_SI": ctx.doctor,
            "MA_TTDV": ctx.f.head_bhxh,
        }

    def _appointment_row(self, ctx: _Ctx, when: datetime) -> Row:
        v, p, ident = ctx.v, ctx.person, ctx.ident
        return {
            "MA_LK": ctx.ma_lk,
            "SO_GIAYHEN_KL": f"GH{ctx.ma_lk}"[:50],
            "MA_CSKCB": ctx.f.code,
            "HO_TEN": ident.ho_ten,
            "NGAY_SINH": ident.ngay_sinh,
            "GIOI_TINH": str(p.sex),
            "DIA_CHI": ident.dia_chi,
            "MA_THE_BHYT": ident.ma_the_bhyt,
            "GT_THE_DEN": f"{v.day.year}1231" if ctx.card else "",
            "NGAY_VAO": _ts(ctx.start),
            "NGAY_VAO_NOI_TRU": "",
            "NGAY_RA": _ts(ctx.end),
            "NGAY_HEN_KL": _ts(when),
            "CHAN_DOAN_RV": self._diagnosis_text(v),
            "MA_BENH_CHINH": v.dx,
            "MA_BENH_KT": ";".join(v.secondary),
            "MA_DOITUONG_KCB": "1.1" if ctx.card else "9",
            "MA_BAC_SI": ctx.doctor,
            "MA_TTDV": ctx.f.head_bhxh,
            "NGAY_CT": f"{ctx.end:%Y%m%d}",
        }

    def _tb(self, ctx: _Ctx) -> Row:
        p, ident = ctx.person, ctx.ident
        started = self.start - timedelta(days=p.idx % 120)
        return {
            "MA_LK": ctx.ma_lk,
            "STT": "1",
            "MA_BN": ident.ma_bn,
            "HO_TEN": ident.ho_ten,
            "SO_CCCD": ident.so_cccd,
            "PHANLOAI_LAO_VITRI": "1",
            "PHANLOAI_LAO_TS": "1",
            "PHANLOAI_LAO_HIV": "1" if p.hiv else "2",
            "PHANLOAI_LAO_VK": "1",
            "PHANLOAI_LAO_KT": "",
            "LOAI_DTRI_LAO": "2",
            "NGAYBD_DTRI_LAO": f"{started:%Y%m%d}",
            "PHACDO_DTRI_LAO": "1",
            "MA_CSKCB": ctx.f.code,
        }

    def _hiv(self, ctx: _Ctx) -> Row:
        p, ident = ctx.person, ctx.ident
        confirmed = date(2015 + p.idx % 9, 1 + p.idx % 12, 1 + p.idx % 28)
        return {
            "MA_LK": ctx.ma_lk,
            "MA_THE_BHYT": ident.ma_the_bhyt,
            "SO_CCCD": ident.so_cccd,
            "NGAY_SINH": ident.ngay_sinh,
            "GIOI_TINH": str(p.sex),
            "DIA_CHI": ident.dia_chi,
            "MATINH_CU_TRU": ident.matinh,
            "MAHUYEN_CU_TRU": ident.mahuyen,
            "MAXA_CU_TRU": ident.maxa,
            "NGAYKD_HIV": f"{confirmed:%Y%m%d}",
            "BDDT_ARV": f"{confirmed + timedelta(days=14):%Y%m%d}",
            "MA_PHAC_DO_DIEU_TRI_BD": "TDF+3TC+DTG",
            "MA_BAC_PHAC_DO_BD": "1",
            "MA_LYDO_DTRI": "1",
            "SANG_LOC_LAO": "1",
            "MA_LOAI_BN": "2",
            "GIAI_DOAN_LAM_SANG": "1",
            "NHOM_DOI_TUONG": "1",
            "MA_PHAC_DO_DIEU_TRI": "TDF+3TC+DTG",
            "MA_BAC_PHAC_DO": "1",
            "SO_NGAY_CAP_THUOC_ARV": "90",
            "MA_CSKCB": ctx.f.code,
        }


def _referral_number(enc: Encounter) -> str:
    """The referral letter number the sender wrote in XML13 GIAY_CHUYEN_TUYEN."""
    return f"{enc.facility.code}/{enc.ma_lk}"[:50]


@dataclass
class _Ctx:
    person: Person
    v: _Visit
    f: Facility
    ma_lk: str
    start: datetime
    end: datetime
    card: str
    muc: int
    doctor: str
    doctor_name: str
    dept: str
    ident: Identity
    temp_card: bool
