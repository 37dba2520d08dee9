"""The one way in for API input: request bodies and query strings are read through these
pydantic schemas, which bound every number, date, text and nesting depth and refuse unknown
fields, NUL and lone surrogates; the same schemas describe the API in /api/v1/openapi.json."""

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic import ValidationError as PydanticError
from pydantic_core import PydanticCustomError

from app.agents.service import DEFAULT_PLAN_DAYS, MAX_PLAN_DAYS
from app.core.errors import DomainError, ValidationError
from app.core.text import parse_id
from app.schedules.recurrence import FIRST_DAY, LAST_DAY

# --- Bounds (docs/api.md, "Limits") ------------------------------------------------------------

# Ids (and revisions) fit an INTEGER column: 32 bits on PostgreSQL, which refuses larger ones.
MAX_ID = 2**31 - 1
MAX_PAGE = 100_000
MAX_PER_PAGE = 100
# Dates and times: a sane range for a broadcast schedule, far from date.min/max overflows.
MIN_DAY, MAX_DAY = FIRST_DAY, LAST_DAY
MIN_YEAR, MAX_YEAR = MIN_DAY.year, MAX_DAY.year
# One maximum length per kind of text.
TITLE_CHARS = 300
BODY_CHARS = 20_000
LABEL_CHARS = 300
REASON_CHARS = 500
NOTE_CHARS = 500
QUERY_CHARS = 200
CODE_CHARS = 40
# Lists of codes, times and weekdays.
MAX_CODES = 200
MAX_TIMES = 96
# JSON bodies: nesting depth and size, checked before the body is parsed.
MAX_DEPTH = 16
MAX_BODY_BYTES = 1024 * 1024
# The recurrence's own cap on the occurrences a rule may expand to.
MAX_COUNT = 100_000

BAD_JSON = "Nội dung yêu cầu phải là một đối tượng JSON hợp lệ."
UNKNOWN_FIELD = "Trường không được hỗ trợ."


class UnknownFields(DomainError):
    """A body or query names fields the endpoint does not know: refused, never ignored."""

    status = 400
    code = "unknown_fields"


class PayloadTooLarge(DomainError):
    """A request body over MAX_BODY_BYTES."""

    status = 413
    code = "http_413"


# --- Field types ------------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Refuse NUL and lone surrogates, which no database stores alike (PostgreSQL refuses NUL)."""
    if "\x00" in value:
        raise PydanticCustomError("loa_text_nul", "Không được chứa ký tự NUL (\\u0000).")
    if _SURROGATE.search(value):
        raise PydanticCustomError("loa_text_surrogate", "Chứa ký tự Unicode không hợp lệ.")
    return value


def is_clean(value: str) -> bool:
    """Whether a text has neither NUL nor lone surrogates."""
    return "\x00" not in value and not _SURROGATE.search(value)


def text(max_length: int, *, strict: bool = True) -> Any:
    """A text field of at most max_length characters, without NUL or lone surrogates."""
    base = StrictStr if strict else str
    return Annotated[base, Field(max_length=max_length), AfterValidator(clean_text)]


Title = text(TITLE_CHARS)
Body = text(BODY_CHARS)
Label = text(LABEL_CHARS)
Reason = text(REASON_CHARS)
Note = text(NOTE_CHARS)
Code = text(CODE_CHARS)
QueryText = text(QUERY_CHARS, strict=False)
QueryCode = text(CODE_CHARS, strict=False)

Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Field(ge=1, le=MAX_ID)]
Page = Annotated[int, Field(ge=1, le=MAX_PAGE)]
PerPage = Annotated[int, Field(ge=1, le=MAX_PER_PAGE)]
Seconds = Annotated[StrictFloat, Field(ge=0, le=86_400, allow_inf_nan=False)]
Revision = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]
CodeList = Annotated[list[Code], Field(max_length=MAX_CODES)]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_RANGE = f"từ 01/01/{MIN_YEAR} đến 31/12/{MAX_YEAR}"


def _day(value: Any) -> date | None:
    """A YYYY-MM-DD local day in the sane range; "" and null mean none."""
    if value is None or value == "" or isinstance(value, date):
        return value or None
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise PydanticCustomError("loa_day", "Ngày phải có dạng YYYY-MM-DD.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("loa_day", "Ngày không có thật (YYYY-MM-DD).") from None
    if not MIN_DAY <= day <= MAX_DAY:
        raise PydanticCustomError("loa_day_range", f"Ngày phải {_RANGE}.")
    return day


def _instant(value: Any) -> datetime:
    """An ISO 8601 date-time with an offset (any offset) in the sane range, as aware UTC."""
    example = "ví dụ 2026-11-28T05:45:00+07:00"
    if value is None or value == "":
        raise PydanticCustomError("loa_instant", f"Bắt buộc: thời điểm có múi giờ, {example}.")
    if not isinstance(value, str) or len(value) > 40:
        raise PydanticCustomError("loa_instant", f"Thời điểm phải theo ISO 8601, {example}.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "loa_instant", f"Thời điểm phải theo ISO 8601, {example}."
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError("loa_instant", f"Thiếu múi giờ: ghi rõ, {example}.")
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise PydanticCustomError("loa_instant_range", f"Thời điểm phải {_RANGE}.")
    return parsed.astimezone(UTC)


Day = Annotated[
    date | None,
    BeforeValidator(_day),
    WithJsonSchema({"type": ["string", "null"], "format": "date", "pattern": _DAY_PATTERN}),
]
Instant = Annotated[
    datetime,
    BeforeValidator(_instant),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 40}),
]


# --- Reading a request ------------------------------------------------------------------------


class Schema(BaseModel):
    """A request schema: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


M = TypeVar("M", bound=Schema)


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def json_depth_exceeds(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than limit.

    Fast path, all in C: strings removed, then everything but brackets, then the innermost
    pairs removed once per level; a body that empties within limit levels is shallow enough.
    Anything else (deep, or brackets that do not pair up) gets the exact scan.
    """
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        # One pass removes one level: "{[]}" becomes "{}", not "".
        brackets = _INNERMOST.sub(b"", brackets)
    if not brackets:
        return False
    return _json_depth_scan(raw, limit)


def _json_depth_scan(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects nest deeper than limit, scanning the raw text once."""
    depth = 0
    in_string = False
    for token in re.finditer(rb'\\.|["\[\]{}]', raw, re.DOTALL):
        char = token.group()
        if char == b'"':
            in_string = not in_string
        elif in_string or len(char) == 2:
            continue
        elif char in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON."""
    raise ValueError(name)


def load_json(raw: bytes) -> Any:
    """Parse a JSON body, refusing deep nesting, bad UTF-8, NaN and huge numbers as 422."""
    if json_depth_exceeds(raw):
        raise ValidationError(
            f"JSON lồng nhau quá sâu (tối đa {MAX_DEPTH} tầng).", {"body": BAD_JSON}
        )
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        # UnicodeDecodeError and JSONDecodeError are ValueErrors, and so is an integer of
        # more digits than Python converts.
        raise ValidationError(BAD_JSON, {"body": BAD_JSON}) from None


def read_object(*, optional: bool = False) -> dict:
    """The request's JSON object, size and nesting checked; an empty body is {} when optional."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Dữ liệu gửi lên quá lớn (tối đa {MAX_BODY_BYTES // 1024} KiB).")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Dữ liệu gửi lên quá lớn (tối đa {MAX_BODY_BYTES // 1024} KiB).")
    data = {} if optional and not raw.strip() else load_json(raw)
    if not isinstance(data, dict):
        raise ValidationError(BAD_JSON, {"body": BAD_JSON})
    return data


def read_body(model: type[M], message: str, *, optional: bool = False) -> M:
    """The request's JSON object read through model; an empty body is {} when optional."""
    return validate(model, read_object(optional=optional), message)


def read_query(model: type[M], message: str) -> M:
    """The query string (the first value of each name) read through model."""
    args = request.args
    return validate(model, {name: args.get(name) for name in args}, message)


def validate(model: type[M], data: Mapping, message: str) -> M:
    """Validate data, mapping pydantic's errors onto {field: Vietnamese message}."""
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise input_error(exc, message) from None


def _number(value: Any) -> str:
    """A bound as Vietnamese writes it: 100.000, -9,5."""
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    return str(value).replace(".", ",")


MESSAGES = {
    "missing": "Bắt buộc.",
    "string_type": "Phải là chuỗi ký tự.",
    "string_too_long": "Tối đa {max_length} ký tự.",
    "string_too_short": "Ít nhất {min_length} ký tự.",
    "int_type": "Phải là số nguyên.",
    "int_parsing": "Phải là số nguyên.",
    "int_from_float": "Phải là số nguyên.",
    "int_parsing_size": "Số quá lớn.",
    "float_type": "Phải là số.",
    "float_parsing": "Phải là số.",
    "finite_number": "Phải là số hữu hạn.",
    "bool_type": "true hoặc false.",
    "bool_parsing": "true hoặc false.",
    "greater_than_equal": "Phải từ {ge} trở lên.",
    "greater_than": "Phải lớn hơn {gt}.",
    "less_than_equal": "Tối đa {le}.",
    "less_than": "Phải nhỏ hơn {lt}.",
    "list_type": "Phải là danh sách.",
    "too_long": "Tối đa {max_length} phần tử.",
    "too_short": "Ít nhất {min_length} phần tử.",
    "dict_type": "Phải là một đối tượng JSON.",
    "model_type": "Phải là một đối tượng JSON.",
    "model_attributes_type": "Phải là một đối tượng JSON.",
    "enum": "Một trong: {expected}.",
    "literal_error": "Một trong: {expected}.",
    "union_tag_invalid": "Một trong: {expected_tags}.",
}


def _message(error: dict) -> str:
    """A Vietnamese message for one pydantic error."""
    kind = error["type"]
    if kind.startswith("loa_"):
        return error["msg"]
    template = MESSAGES.get(kind)
    if template is None:
        return "Giá trị không hợp lệ."
    ctx = {
        key: _number(value) if isinstance(value, int | float) else str(value)
        for key, value in (error.get("ctx") or {}).items()
    }
    if "expected" in ctx:
        ctx["expected"] = ctx["expected"].replace("'", "").replace(" or ", ", ")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return "Giá trị không hợp lệ."


def _shown(name: str) -> str:
    """A field name as it may be echoed back: short, without NUL or lone surrogates."""
    name = _SURROGATE.sub("?", name.replace("\x00", "?"))
    return name if len(name) <= 60 else name[:60] + "…"


_TYPE_TAGS = frozenset({"int", "float", "str", "bool", "list", "dict", "none"})


def field_name(loc: tuple) -> str:
    """A field's place in the input, "recurrence.count"; list positions are left out."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    # A custom validator's name or a union member would not be a field the caller wrote.
    parts = [p for p in parts if p not in _TYPE_TAGS and "[" not in p]
    return _shown(".".join(parts)) or "body"


def input_error(exc: PydanticError, message: str) -> DomainError:
    """UnknownFields (400) when any field is unknown, else ValidationError (422)."""
    unknown: dict[str, str] = {}
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        name = field_name(error["loc"])
        if error["type"] == "extra_forbidden":
            unknown.setdefault(name, UNKNOWN_FIELD)
        else:
            fields.setdefault(name, _message(error))
    if unknown:
        names = list(unknown)
        listed = ", ".join(f"“{n}”" for n in names[:10]) + (" …" if len(names) > 10 else "")
        return UnknownFields(f"Trường không được hỗ trợ: {listed}.", unknown)
    return ValidationError(message, fields)


# --- Shared query schemas ---------------------------------------------------------------------


class Paged(Schema):
    """page (from 1) and per_page (1 to 100) of a list endpoint."""

    page: Page = 1
    per_page: PerPage | None = None


Flag = Annotated[bool, Field(description="true/false (also 1/0)")]
PriorityValue = Literal["normal", "priority", "emergency"]


def _blank_none(value: Any) -> Any:
    """An empty or blank query value means the filter is not set."""
    return None if isinstance(value, str) and not value.strip() else value


def _stripped_lower(value: Any) -> Any:
    """Query choices are read trimmed and case-insensitively."""
    return value.strip().lower() if isinstance(value, str) else value


def optional_query(kind: Any) -> Any:
    """A query filter that is off when missing or blank."""
    return Annotated[kind | None, BeforeValidator(_blank_none)]


def choice(*values: str) -> Any:
    """One of a few values, read trimmed and case-insensitively from a query string."""
    return Annotated[Literal[values], BeforeValidator(_stripped_lower)]


SCRIPT_STATUSES = ("draft", "submitted", "approved", "rejected", "archived")
LOG_STATUSES = (
    "aired",
    "aired_late",
    "partial",
    "interrupted",
    "failed",
    "missed",
    "skipped",
    "cancelled",
)
PRIORITIES = ("normal", "priority", "emergency")
Priority = Literal[PRIORITIES]


# --- Scripts ----------------------------------------------------------------------------------


class ScriptQuery(Paged):
    """Filters of GET /scripts."""

    q: QueryText = ""
    status: optional_query(choice(*SCRIPT_STATUSES)) = None
    campaign: QueryText = ""
    unit: optional_query(QueryCode) = None
    priority: optional_query(choice(*PRIORITIES)) = None


class SourceIn(Schema):
    """The official document a script comes from."""

    kind: Label | None = None
    number: Label | None = None
    date: Day = None
    issuer: Label | None = None


class ScriptFields(Schema):
    """Fields of a script a client may set."""

    campaign: Label | None = None
    category: Label | None = None
    priority: Priority | None = None
    unit: Code | None = None
    targets: CodeList | None = None
    source: SourceIn | None = None
    valid_from: Day = None
    valid_until: Day = None


class ScriptCreate(ScriptFields):
    """Body of POST /scripts."""

    title: Title
    body: Body


class ScriptUpdate(ScriptFields):
    """Body of PATCH/PUT /scripts/{id}: fields left out keep their value."""

    revision: Revision
    title: Title | None = None
    body: Body | None = None


class NoBody(Schema):
    """A call that takes no fields (an empty body or {})."""


class ApproveIn(Schema):
    """Body of POST /scripts/{id}/approve."""

    version: Id | None = Field(None, description="Guards against approving a newer version.")


class RejectIn(ApproveIn):
    """Body of POST /scripts/{id}/reject."""

    reason: Reason = ""


# --- Speech -----------------------------------------------------------------------------------


class NormalizeIn(Schema):
    """Body of POST /speech/normalize."""

    text: Body
    unit: Code | None = None


Millis = Annotated[StrictInt, Field(ge=0, le=600_000)]
Decibels = Annotated[StrictFloat, Field(ge=-100, le=100, allow_inf_nan=False)]


class SettingsIn(Schema):
    """How the announcement is assembled; fields left out take the defaults."""

    chime: StrictBool | None = None
    repeats: Annotated[StrictInt, Field(ge=0, le=100)] | None = None
    lead_ms: Millis | None = None
    tail_ms: Millis | None = None
    gap_ms: Millis | None = None
    repeat_pause_ms: Millis | None = None
    highpass_hz: Annotated[StrictInt, Field(ge=0, le=100_000)] | None = None
    target_lufs: Decibels | None = None
    true_peak_db: Decibels | None = None
    format: text(10) | None = None
    bitrate_kbps: Annotated[StrictInt, Field(ge=0, le=10_000)] | None = None
    sample_rate: Annotated[StrictInt, Field(ge=0, le=1_000_000)] | None = None


class RenderIn(Schema):
    """Body of POST /scripts/{id}/renders (optional)."""

    station: Code | None = None
    engine: Code | None = None
    voice: text(60) | None = None
    speed: Annotated[StrictInt, Field(ge=1, le=1000)] = 100
    intro_text: Label | None = None
    settings: SettingsIn = SettingsIn()
    allow_fallback: StrictBool = True


# --- Dispatches -------------------------------------------------------------------------------

# Pasted dispatch text: a JSON body is at most MAX_BODY_BYTES, so far less than a file may be.
DISPATCH_TEXT_CHARS = 500_000
DISPATCH_STATUSES = ("received", "confirmed", "closed")


class DispatchTextIn(Schema):
    """Body of POST /dispatches as JSON: the dispatch's text, pasted."""

    text: text(DISPATCH_TEXT_CHARS)


class DispatchQuery(Paged):
    """Filters of GET /dispatches."""

    q: QueryText = ""
    status: optional_query(choice(*DISPATCH_STATUSES)) = None


# --- Broadcast log ----------------------------------------------------------------------------


class VerifyQuery(Schema):
    """Parameters of GET /logs/verify."""

    station: optional_query(QueryCode) = None
    date_from: Day = None
    date_to: Day = None


class LogQuery(Paged, VerifyQuery):
    """Filters of GET /logs."""

    status: optional_query(choice(*LOG_STATUSES)) = None
    campaign: QueryText = ""


# --- Stations, schedules, playout -------------------------------------------------------------


class StationQuery(Paged):
    """Filters of GET /stations."""

    unit: optional_query(QueryCode) = None
    active: optional_query(bool) = None


class RundownQuery(Schema):
    """Parameters of GET /stations/{code}/rundown."""

    date: Day = None


class ScheduleQuery(Paged):
    """Filters of GET /schedules."""

    station: optional_query(QueryCode) = None
    script: optional_query(QueryId) = None
    include_deleted: bool = False


Clock = text(10)


class RecurrenceIn(Schema):
    """A schedule's rule; times, per_session and every_minutes with its window belong to one
    kind each."""

    kind: Literal["times", "per_session", "every"]
    times: (
        Annotated[
            text(1000) | Annotated[list[Clock], Field(max_length=MAX_TIMES)],
            Field(union_mode="left_to_right"),
        ]
        | None
    ) = None
    per_session: Annotated[StrictInt, Field(ge=1, le=60)] | None = None
    every_minutes: Annotated[StrictInt, Field(ge=1, le=1440)] | None = None
    window_start: Clock | None = None
    window_end: Clock | None = None
    weekdays: Annotated[list[Annotated[StrictInt, Field(ge=1, le=7)]], Field(max_length=7)] = [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
    ]
    start_date: Day = None
    end_date: Day = None
    count: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)] | None = None


class ScheduleIn(Schema):
    """Body of POST /schedules."""

    script: Id
    recurrence: RecurrenceIn
    stations: CodeList | None = None
    units: CodeList | None = None
    priority: Priority | None = None
    gap_seconds: Seconds | None = None
    confirm_warnings: StrictBool = False
    dry_run: StrictBool = False


class CancelIn(Schema):
    """Body of POST /schedules/{id}/cancellations."""

    occurs_at: Instant
    station: Code | None = None
    reason: Reason = ""


class AirNowIn(Schema):
    """Body of POST /stations/{code}/air-now."""

    script: Id
    note: Note = ""


class SkipIn(Schema):
    """Body of POST /airings/{id}/skip."""

    reason: Reason = ""


class LiveReadIn(Schema):
    """Body of POST /stations/{code}/live-reads."""

    started_at: Instant
    duration_s: Seconds
    script: Id | None = None
    airing: Id | None = None
    note: Note = ""


# --- Reports ----------------------------------------------------------------------------------


def _script_filter(value: Any) -> Any:
    """ "-" (scripts without one) or a script id."""
    value = _blank_none(value)
    if value is None or (isinstance(value, str) and value.strip() == "-"):
        return value and "-"
    number = parse_id(value.strip(), 19) if isinstance(value, str) else None
    if number is not None and 1 <= number <= MAX_ID:
        return str(number)
    raise PydanticCustomError("loa_script_id", "Mã kịch bản phải là số (id) hoặc “-”.")


class ReportQuery(Schema):
    """Filters of the report endpoints (the report pages' query parameters)."""

    period: optional_query(choice("day", "week", "month", "custom", "all")) = None
    date: Day = None
    end: Day = None
    unit: optional_query(QueryCode) = None
    station: optional_query(QueryCode) = None
    campaign: QueryText | None = None
    source: optional_query(QueryText) = None
    script: Annotated[
        str | None,
        BeforeValidator(_script_filter),
        WithJsonSchema({"type": "string", "pattern": r"^(-|[1-9][0-9]{0,17})$"}),
    ] = None
    priority: optional_query(choice(*PRIORITIES)) = None
    format: optional_query(choice("json", "csv")) = None


# --- Station agents ---------------------------------------------------------------------------


class EnrolIn(Schema):
    """Body of POST /agent/enrol."""

    code: Annotated[
        text(CODE_CHARS),
        Field(description="The one-time enrolment code, e.g. ABCD-EFGH-JKMN-PQRS."),
    ]


class AgentPlanQuery(Schema):
    """Parameters of GET /agent/plan."""

    days: Annotated[int, Field(ge=1, le=MAX_PLAN_DAYS)] = DEFAULT_PLAN_DAYS


# Times an agent sends: its own clock, which may be far off (a PC without a clock battery starts
# in 1970), so any year from 1970 is taken; the health report shows how far off it is.
AGENT_MIN_YEAR = 1970
Sha256 = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
Sha256OrEmpty = Annotated[StrictStr, Field(pattern=r"^([0-9a-f]{64})?$")]
LOG_REASON_CHARS = 2000
MAX_LOG_BATCH = 1000


def _agent_instant(value: Any) -> datetime | None:
    """An ISO 8601 date-time with an offset, from 1970 to 2100, as aware UTC; null is none."""
    if value is None:
        return None
    example = "ví dụ 2026-11-28T05:45:00.000000+00:00"
    if not isinstance(value, str) or len(value) > 40:
        raise PydanticCustomError("loa_instant", f"Thời điểm phải theo ISO 8601, {example}.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "loa_instant", f"Thời điểm phải theo ISO 8601, {example}."
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError("loa_instant", f"Thiếu múi giờ: ghi rõ, {example}.")
    if not AGENT_MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise PydanticCustomError(
            "loa_instant_range", f"Thời điểm phải từ năm {AGENT_MIN_YEAR} đến {MAX_YEAR}."
        )
    return parsed.astimezone(UTC)


def _required(value: Any) -> Any:
    """Null is not a time where one is required."""
    if value is None:
        raise PydanticCustomError("loa_instant", "Bắt buộc: thời điểm có múi giờ.")
    return value


_AGENT_INSTANT_SCHEMA = {"type": "string", "format": "date-time", "maxLength": 40}
AgentInstant = Annotated[
    datetime,
    BeforeValidator(_agent_instant),
    BeforeValidator(_required),
    WithJsonSchema(_AGENT_INSTANT_SCHEMA),
]
OptionalAgentInstant = Annotated[
    datetime | None,
    BeforeValidator(_agent_instant),
    WithJsonSchema({**_AGENT_INSTANT_SCHEMA, "type": ["string", "null"]}),
]


class LogRowIn(Schema):
    """One broadcast log row as the agent wrote and hashed it: every column the hash covers
    (see app/broadcast/service.py), times in ISO 8601 with an offset, no id. Every field is
    required: the hash cannot be checked without it."""

    station_id: Id
    unit_id: Id | None
    seq: Id
    prev_hash: Sha256
    row_hash: Sha256
    hash_version: Annotated[StrictInt, Field(ge=1, le=1000)]
    created_at: AgentInstant
    planned_at: OptionalAgentInstant
    started_at: OptionalAgentInstant
    ended_at: OptionalAgentInstant
    duration_s: Annotated[StrictFloat, Field(ge=0, le=86_400, allow_inf_nan=False)] | None
    status: Literal[LOG_STATUSES]
    priority: Priority
    reason: text(LOG_REASON_CHARS)
    script_id: Id | None
    version_id: Id | None
    render_id: Id | None
    spoken_sha256: Sha256OrEmpty
    audio_sha256: Sha256OrEmpty
    schedule_id: Id | None
    airing_key: text(120) | None
    operator_id: Id | None
    runner_host: text(120)
    corrects_id: Id | None
    corrects_hash: Sha256 | None
    correction_reason: text(REASON_CHARS)


class LogBatchIn(Schema):
    """Body of POST /agent/log: the agent's rows in chain order."""

    rows: Annotated[list[LogRowIn], Field(max_length=MAX_LOG_BATCH)]


class OutputStateIn(Schema):
    """The state of the agent's output when it reported."""

    name: text(40)
    ok: StrictBool
    message: text(1000)


Bytes = Annotated[StrictInt, Field(ge=0, le=2**62)]


class ReleaseIn(Schema):
    """Body of POST /agent/release: the newest row the agent wrote (0 for none)."""

    head_seq: Annotated[StrictInt, Field(ge=0)]


class HealthIn(Schema):
    """Body of POST /agent/health."""

    agent_version: text(40)
    plan_until: OptionalAgentInstant
    audio_missing: Annotated[StrictInt, Field(ge=0, le=1_000_000)]
    output: OutputStateIn
    disk_free_bytes: Bytes
    disk_total_bytes: Bytes
    agent_time: AgentInstant


class SyncIn(Schema):
    """Body of POST /agent/sync: the health report and the ETag of the plan held."""

    health: HealthIn
    plan_etag: Annotated[StrictStr, Field(pattern=r"^([0-9a-f]{64})?$")] = ""
    days: Annotated[StrictInt, Field(ge=1, le=MAX_PLAN_DAYS)] = DEFAULT_PLAN_DAYS
