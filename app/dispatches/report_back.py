"""The report back on a dispatch ("Báo cáo kết quả thực hiện Công văn số …"), as DOCX and PDF
in the layout of NĐ 30/2020/NĐ-CP, with the airtime reports' figures.

Layout (Appendix I of the decree): A4, margins 20 mm top and bottom, 30 mm left, 15 mm right;
Times New Roman. A borderless two-column header: the issuing body on the left (its parent
upper-case, the body itself upper-case and bold, a short rule under it, then "Số: …/BC-…"),
the national motto on the right (upper-case bold, then "Độc lập - Tự do - Hạnh phúc" bold and
underlined its own length, then the place and date in italic). The kind "BÁO CÁO" centred
bold, the subject centred bold with a short rule under it; the body justified with a first-line
indent; at the foot another borderless two-column table: "Nơi nhận:" (bold italic, 12 pt; the
list in 11 pt, one "- …;" a line, the last "- Lưu: VT, ….") on the left, the signer on the
right (authority and title upper-case bold, room to sign, the name bold).

The PDF follows the same layout with the project's DejaVu Sans (the only Vietnamese fonts the
project ships), a point smaller than the DOCX (DejaVu Sans runs wider than Times New Roman), and
italic drawn as a slant (DejaVu Sans ships no italic face here).

The figures are app.reports.service's (airtime_dashboard and campaign_report with the
dispatch's scripts as the filter): the report, the tracking page and the report pages agree.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from app.audit.service import record_event
from app.auth.models import User
from app.broadcast.models import LogStatus
from app.core.clock import LOCAL_TZ
from app.core.errors import PermissionDenied, ValidationError
from app.core.text import fold, nfc
from app.dispatches import tracking
from app.dispatches.models import Dispatch
from app.extensions import db
from app.org.models import Station
from app.reports.charts import vn_number
from app.reports.exports import FONT_DIR, FONT_FAMILY, Column, _Grid, filter_pairs, slugify
from app.reports.service import (
    NO_CAMPAIGN,
    Dashboard,
    Period,
    ReportFilter,
    Tally,
    airtime_dashboard,
    campaign_report,
    make_period,
    parse_date,
)
from app.scripts.models import Script

FORMATS = ("docx", "pdf")
MIMETYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
FONT = "Times New Roman"
MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_LINE = "Độc lập - Tự do - Hạnh phúc"
KIND = "BÁO CÁO"
# The decree's margins (mm), within its ranges: top 20–25, bottom 20–25, left 30–35, right 15–20.
MARGINS = {"top": 20, "bottom": 20, "left": 30, "right": 15}
# Misses listed one by one; beyond this the report says how many more (the campaign report
# on the web lists them all).
MAX_MISSES = 100
MAX_RECIPIENTS = 20
LIMITS = {
    "issuer_parent": 200,
    "issuer_name": 200,
    "number": 6,
    "code": 40,
    "place": 80,
    "cited_issuer": 300,
    "signer_authority": 120,
    "signer_title": 200,
    "signer_name": 120,
    "archive": 120,
    "recipient": 300,
}
# Words naming a level before a place's name: "Thành phố Phan Thiết" is at "Phan Thiết".
PLACE_WORDS = ("tỉnh", "thành phố", "thị xã", "thị trấn", "huyện", "quận", "phường", "xã")
# The kind of report is named in its code (NĐ 30/2020, Appendix III: BC = báo cáo).
# One Vietnamese syllable, without its tone marks: onset, vowels, final consonant.
SYLLABLE_RE = re.compile(
    r"(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]+(ch|ng|nh|[cmnpt])?"
)
CODE_RE = re.compile(r"^[0-9A-ZĐ&.]+(-[0-9A-ZĐ&.]+)*$")


# --- what the supervisor sets -------------------------------------------------------------


@dataclass
class ReportInput:
    """What the report's form sets: who issues it, its number, place and date, the period, how
    the dispatch's issuer is cited, the signer and the recipients."""

    issuer_parent: str
    issuer_name: str
    number: str
    code: str
    place: str
    issued_on: date
    start: date
    end: date
    cited_issuer: str
    signer_authority: str
    signer_title: str
    signer_name: str
    recipients: list[str]
    archive: str

    @property
    def number_line(self) -> str:
        """ "Số: 12/BC-PTH", or with room for the clerk's number when none is given."""
        return f"Số: {self.number}/{self.code}" if self.number else f"Số:      /{self.code}"

    @property
    def period(self) -> Period:
        """The period the figures cover."""
        return Period("custom", self.start, self.end)


def sentence_case(text: str) -> str:
    """An upper-case heading as a sentence cites it: "TIỂU BAN THÔNG TIN TUYÊN TRUYỀN" →
    "Tiểu ban thông tin tuyên truyền", "UBND TỈNH BÌNH THUẬN" → "UBND tỉnh Bình Thuận".

    Text that is not all upper-case is kept. Words that cannot be one Vietnamese syllable are
    acronyms or codes (UBND, BCĐ, TT&TT, COVID-19) and stay as they are; the words after a
    level (tỉnh, huyện, xã …) are a place's name and keep their capitals.
    """
    text = " ".join(nfc(text).split())
    if not text or text != text.upper():
        return text
    words = text.split(" ")
    out: list[str] = []
    in_place = False
    for n, word in enumerate(words):
        low = word.lower()
        acronym = not SYLLABLE_RE.fullmatch(fold(word).strip('.,;:()"“”'))
        if acronym:
            out.append(word)
        elif n == 0 or in_place:
            out.append(low[:1].upper() + low[1:])
        else:
            out.append(low)
        pair = f"{words[n - 1].lower()} {low}" if n else low
        if low in PLACE_WORDS or pair in PLACE_WORDS:
            in_place = True
    return " ".join(out)


def place_of(unit_name: str, level: str) -> str:
    """The place a unit's documents are dated at: its name without the level word."""
    name = " ".join(unit_name.split())
    for word in sorted({level.lower(), *PLACE_WORDS}, key=len, reverse=True):
        if word and name.lower().startswith(word + " "):
            return name[len(word) + 1 :]
    return name


def cite(dispatch: Dispatch) -> str:
    """The dispatch as a sentence cites it: "Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021"."""
    kind = (dispatch.kind or "văn bản").strip()
    parts = [kind[:1].upper() + kind[1:]]
    if dispatch.reference:
        parts.append(f"số {dispatch.reference}")
    if dispatch.issued_on:
        d = dispatch.issued_on
        parts.append(f"ngày {d.day}/{d.month}/{d.year}")
    return " ".join(parts)


def cited_issuer(dispatch: Dispatch) -> str:
    """How the report names who sent the dispatch: the issuer, and its parent after a dash."""
    parts = [sentence_case(p) for p in (dispatch.issuer, dispatch.parent_issuer) if p]
    return " - ".join(parts)


def default_input(actor: User, dispatch: Dispatch, today: date) -> ReportInput:
    """Defaults from the receiving unit, the dispatch and the signed-in supervisor."""
    unit = dispatch.unit
    short = unit.code.split("-")[-1].upper()
    issuer = cited_issuer(dispatch)
    first = f"{issuer} (b/c)" if issuer else "Như trên"
    return ReportInput(
        issuer_parent=unit.parent.name if unit.parent is not None else "",
        issuer_name=unit.name,
        number="",
        code=f"BC-{short}",
        place=place_of(unit.name, unit.level),
        issued_on=today,
        start=tracking.tracking_period(dispatch, today).start,
        end=today,
        cited_issuer=issuer,
        signer_authority="",
        signer_title="THỦ TRƯỞNG ĐƠN VỊ",
        signer_name=actor.full_name,
        recipients=[first],
        archive=f"VT, {short}",
    )


def _text(data, name: str, errors: dict[str, str], label: str, *, required: bool) -> str:
    value = " ".join(nfc(str(data.get(name) or "")).split())
    if required and not value:
        errors[name] = f"Hãy nhập {label}."
    elif len(value) > LIMITS[name]:
        errors[name] = f"{label[:1].upper()}{label[1:]} dài tối đa {LIMITS[name]} ký tự."
    return value


def _date(data, name: str, errors: dict[str, str], label: str) -> date | None:
    try:
        value = parse_date(data.get(name), name)
    except ValidationError as exc:
        errors[name] = exc.message
        return None
    if value is None:
        errors[name] = f"Hãy chọn {label}."
    return value


def parse_input(data, today: date) -> ReportInput:
    """Read and check the form (a mapping of strings); ValidationError with a Vietnamese
    message per field at fault."""
    errors: dict[str, str] = {}
    issuer_parent = _text(data, "issuer_parent", errors, "cơ quan chủ quản", required=False)
    issuer_name = _text(data, "issuer_name", errors, "tên cơ quan ban hành", required=True)
    number = _text(data, "number", errors, "số văn bản", required=False)
    if number and not (number.isascii() and number.isdecimal()):
        errors["number"] = "Số văn bản chỉ gồm chữ số (để trống nếu văn thư sẽ ghi số)."
    code = _text(data, "code", errors, "ký hiệu", required=True).upper().replace(" ", "")
    if code and "code" not in errors and not CODE_RE.match(code):
        errors["code"] = "Ký hiệu chỉ gồm chữ in hoa, chữ số và dấu gạch nối, ví dụ BC-PTH."
    elif code and not code.startswith("BC-") and "code" not in errors:
        errors["code"] = "Ký hiệu của báo cáo bắt đầu bằng “BC-”, ví dụ BC-PTH."
    place = _text(data, "place", errors, "địa danh", required=True)
    issued_on = _date(data, "issued_on", errors, "ngày báo cáo")
    start = _date(data, "start", errors, "ngày bắt đầu của kỳ báo cáo")
    end = _date(data, "end", errors, "ngày kết thúc của kỳ báo cáo")
    if start and end and "end" not in errors:
        if end > today:
            errors["end"] = (
                f"Kỳ báo cáo chỉ tính đến hôm nay ({today:%d/%m/%Y}); hãy chọn ngày kết thúc "
                "không muộn hơn."
            )
        else:
            try:
                make_period("custom", start, end)
            except ValidationError as exc:
                errors.update(exc.fields)
    cited = _text(data, "cited_issuer", errors, "cơ quan ban hành văn bản đến", required=True)
    authority = _text(data, "signer_authority", errors, "quyền hạn ký", required=False)
    title = _text(data, "signer_title", errors, "chức vụ người ký", required=True)
    name = _text(data, "signer_name", errors, "họ tên người ký", required=True)
    archive = _text(data, "archive", errors, "nơi lưu", required=True)
    recipients = []
    for line in nfc(str(data.get("recipients") or "")).split("\n"):
        line = " ".join(line.split()).lstrip("-–+• ").rstrip(";.,").strip()
        if line:
            recipients.append(line)
    if not recipients:
        errors["recipients"] = "Hãy ghi ít nhất một nơi nhận (cơ quan ban hành văn bản đến)."
    elif len(recipients) > MAX_RECIPIENTS:
        errors["recipients"] = f"Tối đa {MAX_RECIPIENTS} nơi nhận."
    elif any(len(r) > LIMITS["recipient"] for r in recipients):
        errors["recipients"] = f"Mỗi nơi nhận dài tối đa {LIMITS['recipient']} ký tự."
    if errors:
        first = next(iter(errors.values()))
        message = "Chưa lập được báo cáo: hãy sửa các ô được đánh dấu."
        if len(errors) == 1:
            message = f"Chưa lập được báo cáo: {first[:1].lower()}{first[1:]}"
        raise ValidationError(message, errors)
    return ReportInput(
        issuer_parent=issuer_parent,
        issuer_name=issuer_name,
        number=number,
        code=code,
        place=place,
        issued_on=issued_on,
        start=start,
        end=end,
        cited_issuer=cited,
        signer_authority=authority,
        signer_title=title,
        signer_name=name,
        recipients=recipients,
        archive=archive,
    )


# --- the figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class MissLine:
    """One airing that did not air as planned, as the report lists it."""

    when: datetime
    station: Station
    title: str
    status: LogStatus
    reason: str


@dataclass
class ReportBack:
    """Everything the report says, with the airtime reports' figures for its period."""

    dispatch: Dispatch
    data: ReportInput
    filters: ReportFilter
    board: Dashboard
    scripts: list[Script]
    misses: list[MissLine] = field(default_factory=list)

    @property
    def stations(self) -> list[tuple[Station, Tally]]:
        """Each station's airings of the dispatch's scripts."""
        return self.board.by_station

    @property
    def total(self) -> Tally:
        """All stations together."""
        return self.board.total

    @property
    def campaigns(self) -> list[tuple[str, Tally]]:
        """Per campaign, when the dispatch's scripts belong to several."""
        return self.board.by_campaign

    @property
    def cite(self) -> str:
        """The dispatch as cited."""
        return cite(self.dispatch)

    @property
    def title(self) -> str:
        """ "Báo cáo kết quả thực hiện Công văn số … của …"."""
        return f"Báo cáo {self.subject[:1].lower()}{self.subject[1:]}"

    @property
    def subject(self) -> str:
        """The subject line under "BÁO CÁO"."""
        tail = f" của {self.data.cited_issuer}" if self.data.cited_issuer else ""
        return f"Kết quả thực hiện {self.cite}{tail}"

    def opening(self) -> str:
        """The first paragraph: what is reported on, by whom, over which period."""
        about = re.sub(r"^(v/v|về việc)\s*", "", self.dispatch.subject.strip(), flags=re.I)
        about = f" về việc {about.rstrip('.')}" if about else ""
        tail = f" của {self.data.cited_issuer}" if self.data.cited_issuer else ""
        return (
            f"Thực hiện {self.cite}{tail}{about}, {self.data.issuer_name} báo cáo kết quả "
            f"thực hiện từ ngày {self.data.start:%d/%m/%Y} đến ngày {self.data.end:%d/%m/%Y} "
            "như sau:"
        )

    def scripts_paragraph(self) -> str:
        """What was drafted and approved."""
        approved = [s for s in self.scripts if tracking.is_approved(s)]
        if not self.scripts:
            return "Chưa biên soạn bản tin nào từ văn bản này."
        text = (
            f"Đã biên soạn {len(self.scripts)} bản tin từ nội dung văn bản, trong đó "
            f"{len(approved)} bản tin đã được duyệt để phát"
        )
        if approved:
            text += ": " + "; ".join(f"“{s.title}”" for s in approved)
        return text + "."

    def airing_paragraph(self) -> str:
        """The totals in one sentence."""
        t = self.total
        if not t.planned and not t.on_air:
            return "Trong kỳ báo cáo chưa có lượt phát nào theo lịch."
        stations = sum(1 for _, st in self.stations if st.on_air)
        text = (
            f"Các bản tin đã được phát {t.on_air} lượt trên {stations} đài, trên tổng số "
            f"{t.planned} lượt theo kế hoạch (tỉ lệ thực hiện {t.compliance_label}), tổng "
            f"thời lượng {vn_number(t.airtime_minutes)} phút"
        )
        missed = tracking.not_aired(t)
        text += f"; {missed} lượt không phát được." if missed else "."
        if t.pending:
            text += f" Kế hoạch tính cả {t.pending} lượt chưa đến giờ phát."
        return text

    def closing(self) -> str:
        """The last paragraph, ended as the decree ends a text ("./.")."""
        return f"Trên đây là báo cáo kết quả thực hiện {self.cite} của {self.data.issuer_name}./."

    @property
    def date_line(self) -> str:
        """ "Phan Thiết, ngày 05 tháng 01 năm 2026": days under 10 and January and February
        written with a leading zero, as the decree asks."""
        d = self.data.issued_on
        month = f"{d.month:02d}" if d.month <= 2 else str(d.month)
        return f"{self.data.place}, ngày {d.day:02d} tháng {month} năm {d.year}"

    def station_rows(self) -> list[list[str]]:
        """The per-station table's rows, the total last."""
        rows = []
        for n, (station, t) in enumerate(self.stations, 1):
            rows.append([str(n), station.name, *_figures(t)])
        rows.append(["", "Tổng cộng", *_figures(self.total)])
        return rows

    def campaign_rows(self) -> list[list[str]]:
        """The per-campaign table's rows (only shown when there are several)."""
        rows = []
        for n, (name, t) in enumerate(self.campaigns, 1):
            rows.append([str(n), name or NO_CAMPAIGN, *_figures(t)])
        rows.append(["", "Tổng cộng", *_figures(self.total)])
        return rows

    def miss_lines(self) -> list[str]:
        """Each miss as one line of the list, at most MAX_MISSES."""
        lines = []
        for miss in self.misses[:MAX_MISSES]:
            when = miss.when.astimezone(LOCAL_TZ)
            reason = _without_status(miss.reason, miss.status.label)
            line = (
                f"{when:%d/%m/%Y %H:%M}, {miss.station.name}, “{miss.title}”: {miss.status.label}"
            )
            lines.append(f"{line} ({reason})" if reason else line)
        if len(self.misses) > MAX_MISSES:
            more = len(self.misses) - MAX_MISSES
            lines.append(f"và {more} lượt khác (xem báo cáo chiến dịch trên Loa).")
        return lines


TABLE_HEAD = [
    "STT",
    "Đài",
    "Kế hoạch (lượt)",
    "Đã phát (lượt)",
    "Không phát được (lượt)",
    "Thời lượng (phút)",
]
CAMPAIGN_HEAD = ["STT", "Chiến dịch", *TABLE_HEAD[2:]]


def _figures(t: Tally) -> list[str]:
    return [str(t.planned), str(t.on_air), str(tracking.not_aired(t)), vn_number(t.airtime_minutes)]


def _without_status(reason: str, label: str) -> str:
    """A log reason without the "bỏ lỡ: " the runner puts before it (the status says it)."""
    head, colon, rest = (reason or "").partition(":")
    return rest.strip() if colon and head.strip().casefold() == label.casefold() else reason or ""


def build_report(actor: User, dispatch: Dispatch, data: ReportInput) -> ReportBack:
    """The report's figures: the airtime reports' for the dispatch's scripts in the receiving
    unit's subtree over the chosen period."""
    filters = tracking.report_filter(dispatch, data.period, dispatch.unit)
    board = airtime_dashboard(actor, filters)
    proof = campaign_report(actor, tracking.report_filter(dispatch, data.period, dispatch.unit))
    misses = [
        MissLine(
            m.planned_at or m.started_at,
            line.station,
            line.script.title if line.script else "(không gắn kịch bản)",
            m.status,
            m.reason,
        )
        for line in proof.lines
        for m in line.misses
    ]
    misses.sort(key=lambda m: (m.when, m.station.code))
    scripts = tracking.dispatch_scripts(actor, dispatch)
    return ReportBack(dispatch, data, filters, board, scripts, misses)


# --- DOCX ---------------------------------------------------------------------------------


def render_docx(report: ReportBack) -> bytes:
    """The report as a Word document in the decree's layout."""
    import docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    data = report.data
    document = docx.Document()
    props = document.core_properties
    props.title = report.title
    props.author = data.issuer_name
    props.language = "vi-VN"
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGINS["top"]), Mm(MARGINS["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS["left"]), Mm(MARGINS["right"])
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    _east_asian_font(normal.element, FONT)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.15
    centre, justify = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.JUSTIFY
    width = 210 - MARGINS["left"] - MARGINS["right"]

    def para(container, text="", *, size=14, bold=False, italic=False, align=None, after=0):
        paragraph = container.add_paragraph()
        if text:
            run = paragraph.add_run(text)
            run.font.size, run.bold, run.italic = Pt(size), bold, italic
        paragraph.alignment = align
        paragraph.paragraph_format.space_after = Pt(after)
        return paragraph

    # The header: issuing body | national motto.
    left_w, right_w = 62, width - 62
    head = document.add_table(rows=1, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    head.autofit = False
    _widths(head, [Mm(left_w), Mm(right_w)])
    left, right = head.rows[0].cells
    first = left.paragraphs[0]
    if data.issuer_parent:
        run = first.add_run(data.issuer_parent.upper())
        run.font.size = Pt(13)
        first.alignment = centre
        para(left, data.issuer_name.upper(), size=13, bold=True, align=centre)
    else:
        run = first.add_run(data.issuer_name.upper())
        run.font.size, run.bold = Pt(13), True
        first.alignment = centre
    _rule(para(left, align=centre, after=6), Mm(left_w / 3))
    para(left, data.number_line, size=13, align=centre)
    motto = right.paragraphs[0]
    run = motto.add_run(MOTTO)
    run.font.size, run.bold = Pt(12), True
    motto.alignment = centre
    line = para(right, align=centre, after=6)
    run = line.add_run(MOTTO_LINE)
    run.font.size, run.bold, run.underline = Pt(13), True, True
    para(right, report.date_line, size=14, italic=True, align=centre)

    # The kind and the subject, with a short rule under it.
    para(document, KIND, size=14, bold=True, align=centre).paragraph_format.space_before = Pt(18)
    para(document, report.subject, size=14, bold=True, align=centre)
    _rule(para(document, align=centre, after=12), Mm(width / 4))

    def body(text: str, *, bold: bool = False):
        paragraph = para(document, text, bold=bold, align=justify, after=6)
        paragraph.paragraph_format.first_line_indent = Mm(12.7)
        return paragraph

    body(report.opening())
    body("1. Công tác triển khai", bold=True)
    body(report.scripts_paragraph())
    body(report.airing_paragraph())
    body("2. Kết quả phát sóng theo từng đài", bold=True)
    _docx_table(document, TABLE_HEAD, report.station_rows(), [12, 63, 22, 22, 24, 22])
    if len(report.campaigns) > 1:
        body("Theo chiến dịch:", bold=True)
        _docx_table(document, CAMPAIGN_HEAD, report.campaign_rows(), [12, 63, 22, 22, 24, 22])
    body("3. Các lượt bỏ lỡ, lỗi hoặc phát không trọn", bold=True)
    misses = report.miss_lines()
    if misses:
        for miss in misses:
            para(document, f"- {miss}", size=13, align=justify, after=3)
    else:
        body("Không có lượt phát nào bị bỏ lỡ, lỗi hoặc phát không trọn.")
    body(report.closing()).paragraph_format.keep_with_next = True

    # The foot: recipients | signer, kept with the closing paragraph.
    foot = document.add_table(rows=1, cols=2)
    foot.autofit = False
    _widths(foot, [Mm(width / 2), Mm(width / 2)])
    _keep_row_whole(foot.rows[0])
    left, right = foot.rows[0].cells
    label = left.paragraphs[0]
    label.paragraph_format.space_before = Pt(12)
    run = label.add_run("Nơi nhận:")
    run.font.size, run.bold, run.italic = Pt(12), True, True
    for recipient in recipients_lines(data):
        para(left, recipient, size=11)
    sign = right.paragraphs[0]
    sign.paragraph_format.space_before = Pt(12)
    sign.alignment = centre
    if data.signer_authority:
        run = sign.add_run(data.signer_authority.upper())
        run.font.size, run.bold = Pt(14), True
        sign = para(right, align=centre)
    run = sign.add_run(data.signer_title.upper())
    run.font.size, run.bold = Pt(14), True
    for _ in range(4):  # room for the signature and the seal
        para(right, size=14)
    para(right, data.signer_name, size=14, bold=True, align=centre)

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def recipients_lines(data: ReportInput) -> list[str]:
    """ "- …;" a line, the archive last: "- Lưu: VT, …."."""
    return [f"- {r};" for r in data.recipients] + [f"- Lưu: {data.archive.rstrip('.')}."]


def _keep_row_whole(row) -> None:
    """A table row Word never splits across pages."""
    from docx.oxml import OxmlElement

    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _east_asian_font(style_element, name: str) -> None:
    """Set the font for every script (Word picks the East Asian slot for some characters)."""
    from docx.oxml.ns import qn

    rpr = style_element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(slot), name)


def _widths(table, widths) -> None:
    """Column widths for Word (each cell's) and LibreOffice (the grid's)."""
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
        for cell in column.cells:
            cell.width = width


def _rule(paragraph, length) -> None:
    """A centred horizontal rule of the given length: the paragraph's bottom border between
    indents (Word and LibreOffice draw it the same; a drawn line would float)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Emu, Pt

    fmt = paragraph.paragraph_format
    fmt.line_spacing = Pt(2)
    container = paragraph._parent
    available = getattr(container, "width", None)
    if available is None:  # the body: the text width of the page
        section = paragraph.part.document.sections[0]
        available = section.page_width - section.left_margin - section.right_margin
    side = Emu(max(int((available - length) / 2), 0))
    fmt.left_indent = side
    fmt.right_indent = side
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    border.append(bottom)
    ppr = paragraph._p.get_or_add_pPr()
    ppr.insert_element_before(
        border,
        "w:shd",
        "w:tabs",
        "w:suppressAutoHyphens",
        "w:kinsoku",
        "w:wordWrap",
        "w:overflowPunct",
        "w:topLinePunct",
        "w:autoSpaceDE",
        "w:autoSpaceDN",
        "w:bidi",
        "w:adjustRightInd",
        "w:snapToGrid",
        "w:spacing",
        "w:ind",
        "w:contextualSpacing",
        "w:mirrorIndents",
        "w:suppressOverlap",
        "w:jc",
        "w:textDirection",
        "w:textAlignment",
        "w:textboxTightWrap",
        "w:outlineLvl",
        "w:divId",
        "w:cnfStyle",
        "w:rPr",
        "w:sectPr",
        "w:pPrChange",
    )


def _docx_table(document, head: list[str], rows: list[list[str]], widths_mm: list[float]) -> None:
    """A ruled table: bold centred header, numbers right, the last (total) row bold."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    table = document.add_table(rows=1, cols=len(head))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    scale = (210 - MARGINS["left"] - MARGINS["right"]) / sum(widths_mm)
    widths = [Mm(w * scale) for w in widths_mm]

    def fill(cells, values, *, bold: bool, header: bool) -> None:
        for c, (cell, value) in enumerate(zip(cells, values, strict=True)):
            cell.width = widths[c]
            paragraph = cell.paragraphs[0]
            run = paragraph.add_run(value)
            run.font.size, run.bold = Pt(12), bold
            if header or c == 0:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif c >= 2:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    fill(table.rows[0].cells, head, bold=True, header=True)
    for n, row in enumerate(rows):
        fill(table.add_row().cells, row, bold=n == len(rows) - 1, header=False)
    _widths(table, widths)
    document.add_paragraph().paragraph_format.space_after = Pt(6)


# --- PDF ----------------------------------------------------------------------------------

PDF_SIZE = 12  # DejaVu Sans at 12 pt sets about as wide as Times New Roman at 14
SLANT = 12  # degrees, leaning right: DejaVu Sans has no italic face in the project's fonts


def _pdf_text(text: str) -> str:
    """Precomposed letters: DejaVu draws "ế" as one glyph; decomposed marks sit loosely."""
    return unicodedata.normalize("NFC", text)


def render_pdf(report: ReportBack) -> bytes:
    """The same report as a PDF, in the same layout."""
    from fpdf import FPDF

    data = report.data

    class ReportPDF(FPDF):
        def header(self) -> None:
            # NĐ 30 numbers pages from the second, at the top, centred.
            if self.page_no() > 1:
                self.set_y(10)
                self.set_font(FONT_FAMILY, "", 10)
                self.cell(0, 5, str(self.page_no()), align="C")
                self.set_y(MARGINS["top"])

    pdf = ReportPDF(format="A4", unit="mm")
    pdf.set_margins(MARGINS["left"], MARGINS["top"], MARGINS["right"])
    pdf.set_auto_page_break(True, margin=MARGINS["bottom"])
    pdf.add_font(FONT_FAMILY, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT_FAMILY, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(_pdf_text(report.title))
    pdf.set_author(_pdf_text(data.issuer_name))
    pdf.set_creator("Loa")
    pdf.set_lang("vi")
    pdf.add_page()
    x0, top = pdf.l_margin, pdf.t_margin
    left_w = 62.0
    right_x = x0 + left_w
    right_w = pdf.epw - left_w

    def centred(x: float, w: float, text: str, size: float, style: str = "", h: float = 5.6):
        pdf.set_font(FONT_FAMILY, style, size)
        pdf.set_x(x)
        pdf.multi_cell(w, h, _pdf_text(text), align="C", new_x="LEFT", new_y="NEXT")

    def rule(x: float, w: float, length: float, gap: float = 0.8) -> None:
        y = pdf.get_y() + gap
        pdf.set_line_width(0.3)
        pdf.line(x + (w - length) / 2, y, x + (w + length) / 2, y)
        pdf.set_y(y + 2.5)

    # Left column: the issuing body, a rule, the number.
    pdf.set_y(top)
    if data.issuer_parent:
        centred(x0, left_w, data.issuer_parent.upper(), 10.5)
    centred(x0, left_w, data.issuer_name.upper(), 10.5, "B")
    rule(x0, left_w, left_w / 3)
    centred(x0, left_w, data.number_line, 11)
    left_end = pdf.get_y()
    # Right column: the motto, underlined its own length, then place and date in italic.
    pdf.set_y(top)
    centred(right_x, right_w, MOTTO, 10.5, "B")
    pdf.set_font(FONT_FAMILY, "B", 11)
    motto_w = pdf.get_string_width(MOTTO_LINE)
    centred(right_x, right_w, MOTTO_LINE, 11, "B")
    rule(right_x, right_w, motto_w, gap=-0.6)
    pdf.set_font(FONT_FAMILY, "", 11.5)
    y = pdf.get_y()
    with pdf.skew(ax=SLANT, x=right_x + right_w / 2, y=y + 3):
        centred(right_x, right_w, report.date_line, 11.5)
    right_end = pdf.get_y()
    pdf.set_y(max(left_end, right_end) + 8)

    # The kind and the subject.
    full = pdf.epw
    centred(x0, full, KIND, 13, "B", h=6.5)
    centred(x0, full, report.subject, PDF_SIZE, "B", h=6)
    rule(x0, full, full / 4)
    pdf.ln(3)

    def body(text: str, style: str = "") -> None:
        pdf.set_font(FONT_FAMILY, style, PDF_SIZE)
        pdf.set_x(x0)
        # A first-line indent as NĐ 30 asks (1–1.27 cm): spaces of that width.
        indent = " " * max(1, round(10 / pdf.get_string_width(" ")))
        pdf.multi_cell(full, 6, _pdf_text(indent + text), align="J", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    body(report.opening())
    body("1. Công tác triển khai", "B")
    body(report.scripts_paragraph())
    body(report.airing_paragraph())
    body("2. Kết quả phát sóng theo từng đài", "B")
    _pdf_table(pdf, TABLE_HEAD, report.station_rows())
    if len(report.campaigns) > 1:
        body("Theo chiến dịch:", "B")
        _pdf_table(pdf, CAMPAIGN_HEAD, report.campaign_rows())
    body("3. Các lượt bỏ lỡ, lỗi hoặc phát không trọn", "B")
    misses = report.miss_lines()
    if misses:
        pdf.set_font(FONT_FAMILY, "", PDF_SIZE - 1)
        for miss in misses:
            pdf.multi_cell(full, 5.5, _pdf_text(f"- {miss}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    else:
        body("Không có lượt phát nào bị bỏ lỡ, lỗi hoặc phát không trọn.")
    # The closing paragraph and the foot (recipients | signer) stay on one page, so the
    # signature never stands on a page of its own.
    lines = recipients_lines(data)
    pdf.set_font(FONT_FAMILY, "", PDF_SIZE)
    closing = pdf.multi_cell(full, 6, _pdf_text(report.closing()), dry_run=True, output="HEIGHT")
    if pdf.will_page_break(closing + max(11 + 4.6 * len(lines), 48)):
        pdf.add_page()
    body(report.closing())
    pdf.ln(3)
    foot_y = pdf.get_y()
    half = full / 2
    pdf.set_font(FONT_FAMILY, "B", 10.5)
    with pdf.skew(ax=SLANT, x=x0, y=foot_y + 3):
        pdf.set_xy(x0, foot_y)
        pdf.cell(half, 5.5, "Nơi nhận:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, "", 9.5)
    for line in lines:
        pdf.set_x(x0)
        pdf.multi_cell(half - 4, 4.6, _pdf_text(line), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(foot_y)
    if data.signer_authority:
        centred(x0 + half, half, data.signer_authority.upper(), PDF_SIZE, "B", h=6)
    centred(x0 + half, half, data.signer_title.upper(), PDF_SIZE, "B", h=6)
    pdf.ln(24)  # room for the signature and the seal
    centred(x0 + half, half, data.signer_name, PDF_SIZE, "B", h=6)
    return bytes(pdf.output())


def _pdf_table(pdf, head: list[str], rows: list[list[str]]) -> None:
    """The report pages' ruled table (app.reports.exports), numbers right-aligned."""
    # Text columns (the rows are formatted already), the figures right-aligned.
    columns = [Column(f"c{n}", label) for n, label in enumerate(head)]
    grid = _Grid(pdf, columns, rows, PDF_SIZE - 2)
    grid.right = [n >= 2 for n in range(len(head))]
    grid.heading()
    for row in rows:
        grid.row([_pdf_text(v) for v in row])
    pdf.set_xy(pdf.l_margin, grid.y)
    pdf.ln(4)


# --- issuing it ---------------------------------------------------------------------------


def check_may_issue(actor: User) -> None:
    """Only supervisors issue a report back."""
    if not tracking.may_issue_report(actor):
        raise PermissionDenied(
            "Chỉ người duyệt (lãnh đạo đơn vị, ban biên tập) mới lập được báo cáo kết quả "
            "thực hiện văn bản."
        )


def check_format(fmt: str | None) -> str:
    """docx or pdf; a Vietnamese ValidationError for anything else."""
    value = (fmt or "").strip().lower()
    if value not in FORMATS:
        message = f"Không xuất được dạng “{fmt or ''}”; hãy chọn Word (DOCX) hoặc PDF."
        raise ValidationError(message, {"format": message})
    return value


def file_name(report: ReportBack, fmt: str) -> str:
    """ "bao-cao-ket-qua-855-bcd-tbtttt-2026-11-27.docx"."""
    reference = report.dispatch.reference or f"van-ban-{report.dispatch.id}"
    return f"bao-cao-ket-qua-{slugify(reference)}-{report.data.issued_on.isoformat()}.{fmt}"


def issue_report(actor: User, dispatch: Dispatch, data: ReportInput, fmt: str) -> tuple[bytes, str]:
    """Make the report in one format and audit its download (as the report exports are);
    returns the file's bytes and its name."""
    check_may_issue(actor)
    fmt = check_format(fmt)
    report = build_report(actor, dispatch, data)
    content = render_docx(report) if fmt == "docx" else render_pdf(report)
    name = file_name(report, fmt)
    pairs = filter_pairs(report.filters)
    record_event(
        tracking.REPORT_ACTION,
        "dispatch",
        dispatch.id,
        f"Xuất {report.title} ({data.number_line}, ngày {data.issued_on:%d/%m/%Y}) dạng "
        f"{fmt.upper()}",
        actor=actor,
        unit_id=dispatch.unit_id,
        details={
            "report": tracking.REPORT_KIND,
            "title": report.title,
            "subtitle": report.data.period.label,
            "format": fmt,
            "filters": dict(pairs),
            "tables": ["stations", "misses"],
            "rows": len(report.stations) + 1 + len(report.misses),
            "number": data.number_line.removeprefix("Số:").strip(),
            "issued_on": data.issued_on.isoformat(),
            "signer": data.signer_name,
            "file": name,
        },
    )
    db.session.commit()
    return content, name
