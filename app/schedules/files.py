"""Schedule files: schedules/*.yaml imported and exported idempotently, all or nothing per run.

A file is one YAML document: a list of entries, each one schedule rule.

    - key: keu-goi-tiem-chung          # unique in the file: a-z, 0-9, "-", "_", "."
      script: tiem-vac-xin-khi-den-luot  # the script's file name in scripts_vi/ (no .md),
                                         # or its exact title
      units: [BT]                      # all active stations of these units' subtrees;
      stations: [PTH-RADIO]            # and/or these stations; or `all: true` (the stations
                                       # of the importing user's unit); at least one is needed
      per_session: 1                   # the rule, one of: times: "05:45, 17:15"
                                       #   per_session: N (N times in each station session)
                                       #   every: {minutes: 30, from: "06:00", to: "18:00"}
      weekdays: [1, 2, 3, 4, 5]        # optional, 1 = Monday ... 7 = Sunday (or "12345")
      count: 20                        # optional cap on airings per station
      dates: {start: today, days: 14}  # optional, see below
      priority: ưu tiên                # optional: thông thường / ưu tiên / khẩn cấp
                                       #   (normal / priority or high / emergency);
                                       #   default: the script's own priority
      gap_seconds: 5                   # optional pause between spots in a session
      confirm_warnings: true           # optional: save despite warnings (outside sessions,
                                       #   over the cap, ...); without it they stop the import

Decisions:

- Dates. `start` and `end` are ISO dates (2026-11-28) or `today` / `today+N` (also `hôm nay`,
  `hôm nay+N`); `days: N` instead of `end` means N days from start, start included. Without
  `start` the rule starts today; without `end` and `days` it ends when the script stops being
  valid. Without `dates` at all it takes default_dates(), like the schedule form. Relative dates
  let a shipped file (the demo's seed campaign) air whenever it is loaded; a file with fixed
  2021 dates would never air again. `today` is the day in Asia/Ho_Chi_Minh on which the entry is
  imported, and it sticks: re-importing an unchanged entry later reads `today` as the day the
  existing schedule was saved, so nothing changes; a changed entry counts from the day of the
  change.
- Idempotency. Each entry's schedule carries source_key "<file stem>/<key>". On import an
  entry whose active schedule says the same (script, stations, units, rule, dates, priority when
  the entry names one, gap) is left alone and reported "không đổi"; the approved version is not
  compared, so an unchanged file never moves a schedule onto other audio (a newer approval is
  only mentioned). A changed entry replaces its schedule: delete_schedule() on the old one (its
  future planned airings go, aired and claimed ones stay with it), create_schedule() for the
  new one. Occurrences an operator cancelled on the old schedule and that the new rule still
  makes are cancelled again on the new one with the same reason, so a re-import never brings
  back an airing someone called off. A new entry creates a schedule.
- Entries removed from a file are left running and reported ("không còn trong tệp"); with
  --prune their schedules are deleted. Only the stems of the files in the run are considered.
- All or nothing. Every file of a run is read and checked first and every problem is listed,
  each naming the file and the entry; then the whole run is saved in one database transaction.
  Any problem, in any file, saves nothing. The service functions commit as they go, so the run
  gives them a session joined to an outer transaction (SQLAlchemy's "join_transaction_mode=
  create_savepoint"): their commits only release savepoints and the run commits or rolls back
  once at the end.
- The actor. Imports run as a named user (`flask schedules import --as USERNAME`) with the
  schedule.edit permission (operators, supervisors); the usual scope rules apply to scripts,
  stations and units, and a replaced or pruned schedule must be owned by the user's subtree.
- Export writes the active schedules (optionally those owned by one unit's subtree, or those of
  one file stem) in this format with absolute dates, so that importing the export into an empty
  database of the same organisation gives the same rules. With --source STEM the keys are the
  file's own, so the export can replace schedules/STEM.yaml and re-import as "không đổi";
  otherwise a key is "<stem>.<key>", or "lich-<id>" for a schedule made in the app. Cancelled
  occurrences are operations in the app, not part of a file: export only notes them in a
  comment. `confirm_warnings: true` is written when the schedule was saved over warnings.
- YAML is read with the safe loader, except that 17:15 stays text (YAML 1.1 would read it as
  the base-60 number 1035) and a field written twice in one entry is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, can
from app.core import clock
from app.core.errors import DomainError, PermissionDenied, ValidationError
from app.core.text import nfc
from app.extensions import db
from app.org.models import Station, Unit
from app.schedules.models import Airing, CancelledOccurrence, Schedule, ScheduleStatus
from app.schedules.plan import DEFAULT_GAP_SECONDS
from app.schedules.recurrence import (
    ALL_WEEKDAYS,
    LOCAL_TZ,
    Recurrence,
    RecurrenceError,
    format_times,
    parse_times,
    stored_rule,
    weekday_set,
)
from app.schedules.service import (
    ScheduleInput,
    ScheduleProblems,
    cancel_occurrence,
    create_schedule,
    default_dates,
    delete_schedule,
    resolve_stations,
)
from app.scripts.models import PRIORITY_LABELS, Priority, Script

FIELDS = (
    "key",
    "script",
    "stations",
    "units",
    "all",
    "times",
    "per_session",
    "every",
    "weekdays",
    "count",
    "dates",
    "priority",
    "gap_seconds",
    "confirm_warnings",
)
EVERY_FIELDS = ("minutes", "from", "to")
DATE_FIELDS = ("start", "end", "days")
KEY_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
MAX_SOURCE_KEY = 160  # Schedule.source_key
PRIORITY_WORDS = {label: p for p, label in PRIORITY_LABELS.items()} | {
    **{p.value: p for p in Priority},
    "high": Priority.HIGH,
}
_RELATIVE_RE = re.compile(r"(today|hôm nay)\s*(?:\+\s*(\d{1,4}))?")

OUTCOME_LABELS = {
    "created": "tạo mới",
    "replaced": "thay thế",
    "unchanged": "không đổi",
    "kept": "không còn trong tệp",
    "deleted": "đã xóa",
}


# --- Reading files ----------------------------------------------------------------------------


class _NoColon:
    """An implicit resolver pattern that never matches text with a colon (05:45, 17:15)."""

    def __init__(self, regexp: re.Pattern) -> None:
        self.regexp = regexp

    def match(self, value: str) -> re.Match | None:
        """Match like the wrapped pattern, except for text with a colon."""
        return None if ":" in value else self.regexp.match(value)


class _Loader(yaml.SafeLoader):
    """The safe loader, with times kept as text and fields written twice refused."""

    def construct_mapping(self, node, deep=False):
        """A mapping, refusing a key written twice (PyYAML would keep the last silently)."""
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"trường “{key_node.value}” được ghi hai lần",
                        key_node.start_mark,
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, _NoColon(regexp) if tag.endswith((":int", ":float")) else regexp)
        for tag, regexp in resolvers
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class RelativeDay:
    """`today` or `today+N` in a file: read on the day the entry is imported."""

    offset: int = 0

    def on(self, today: date) -> date:
        """The date this stands for when today is the given day."""
        return today + timedelta(days=self.offset)


DaySpec = date | RelativeDay


@dataclass(frozen=True)
class Entry:
    """One entry of a schedule file, checked for form; names are resolved on import."""

    file: str
    stem: str
    key: str
    script: str
    stations: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    all_stations: bool = False
    kind: str = "times"
    times: tuple[time, ...] = ()
    per_session: int = 0
    every_minutes: int = 0
    window_start: time | None = None
    window_end: time | None = None
    weekdays: frozenset[int] = ALL_WEEKDAYS
    count: int | None = None
    start: DaySpec | None = None
    end: DaySpec | None = None
    days: int | None = None
    priority: Priority | None = None
    gap_seconds: float = DEFAULT_GAP_SECONDS
    confirm_warnings: bool = False

    @property
    def source_key(self) -> str:
        """The key its schedule carries: "<file stem>/<key>"."""
        return f"{self.stem}/{self.key}"

    @property
    def label(self) -> str:
        """How messages name the entry."""
        return f"{self.file}, mục “{self.key}”"


@dataclass
class ScheduleFile:
    """A read schedule file: its name for messages, its stem for keys, its entries."""

    name: str
    stem: str
    entries: list[Entry] = field(default_factory=list)


class ScheduleFileError(ValidationError):
    """An import refused: every problem found, each naming its file and entry; nothing saved."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), {"file": self.problems[0]})


def read_file(path: Path) -> ScheduleFile:
    """Read and check one schedule file; raise ScheduleFileError listing all its problems."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScheduleFileError([f"{path.name}: tệp không phải UTF-8."]) from exc
    except OSError as exc:
        raise ScheduleFileError([f"{path.name}: không đọc được tệp ({exc.strerror})."]) from exc
    return read_text(text, path.name, path.stem)


def read_text(text: str, name: str, stem: str) -> ScheduleFile:
    """Read and check a schedule document; raise ScheduleFileError listing all its problems."""
    problems: list[str] = []
    if not stem or len(stem) >= MAX_SOURCE_KEY - 1:
        raise ScheduleFileError([f"{name}: tên tệp quá dài (tối đa {MAX_SOURCE_KEY - 2} ký tự)."])
    try:
        document = yaml.load(nfc(text.lstrip("\ufeff")), Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" ở dòng {mark.line + 1}, cột {mark.column + 1}" if mark else ""
        raise ScheduleFileError(
            [f"{name}: YAML không đọc được{where}: {exc.problem or exc}."]
        ) from exc
    except (yaml.YAMLError, ValueError) as exc:
        # PyYAML raises ValueError for impossible dates such as 2026-02-30.
        raise ScheduleFileError([f"{name}: YAML không đọc được: {exc}."]) from exc
    if document is None:
        document = []
    if not isinstance(document, list):
        raise ScheduleFileError(
            [f"{name}: tệp phải là một danh sách các mục lịch, mỗi mục bắt đầu bằng “- key: …”."]
        )
    result = ScheduleFile(name, stem)
    seen: dict[str, int] = {}
    for index, raw in enumerate(document, start=1):
        entry, entry_problems = _read_entry(raw, name, stem, index)
        problems += entry_problems
        if entry is None:
            continue
        if entry.key in seen:
            problems.append(
                f"{entry.label}: key trùng với mục thứ {seen[entry.key]}; mỗi key chỉ dùng một lần "
                "trong tệp."
            )
            continue
        seen[entry.key] = index
        result.entries.append(entry)
    if problems:
        raise ScheduleFileError(problems)
    return result


def _read_entry(raw: object, name: str, stem: str, index: int) -> tuple[Entry | None, list[str]]:
    """Check one entry's form; return it (or None) with the problems found."""
    label = f"{name}, mục thứ {index}"
    if not isinstance(raw, dict):
        return None, [f"{label}: mỗi mục phải là một bảng “trường: giá trị”, bắt đầu bằng key."]
    key = raw.get("key")
    if key is None or key == "":
        return None, [f"{label}: thiếu key (tên riêng của mục trong tệp)."]
    if not isinstance(key, str | int) or isinstance(key, bool) or not KEY_RE.fullmatch(str(key)):
        return None, [
            f"{label}: key “{key}” không hợp lệ; chỉ dùng chữ thường không dấu, số, “-”, “_”, "
            "“.”, ví dụ keu-goi-tiem-chung."
        ]
    key = str(key)
    label = f"{name}, mục “{key}”"
    problems: list[str] = []
    if len(stem) + 1 + len(key) > MAX_SOURCE_KEY:
        problems.append(f"{label}: key quá dài (tên tệp và key cộng lại tối đa 159 ký tự).")
    unknown = [str(f) for f in raw if f not in FIELDS]
    for name_ in unknown:
        problems.append(
            f"{label}: trường “{name_}” không hợp lệ; các trường dùng được: {', '.join(FIELDS)}."
        )
    fields: dict = {"file": name, "stem": stem, "key": key}

    def problem(message: str) -> None:
        problems.append(f"{label}: {message}")

    script = raw.get("script")
    if script is None or str(script).strip() == "":
        problem("thiếu script (tên tệp kịch bản trong scripts_vi, không có .md, hoặc tiêu đề).")
    else:
        fields["script"] = str(script).strip()
    for name_ in ("stations", "units"):
        codes = _codes(raw.get(name_))
        if codes is None:
            problem(f"{name_} phải là danh sách mã, ví dụ [PTH-RADIO, TTCS-PTY].")
        else:
            fields[name_] = codes
    all_stations = raw.get("all", False)
    if not isinstance(all_stations, bool):
        problem("all phải là true hoặc false.")
    elif all_stations and (fields.get("stations") or fields.get("units")):
        problem("all: true đã gồm mọi đài của đơn vị bạn; đừng ghi thêm stations hoặc units.")
    else:
        fields["all_stations"] = all_stations
    targeted = all_stations is True or fields.get("stations") or fields.get("units")
    if not targeted and "stations" in fields and "units" in fields:
        problem("chọn đài phát: stations (mã đài), units (mã đơn vị) hoặc all: true.")
    problems += [f"{label}: {m}" for m in _read_rule(raw, fields)]
    problems += [f"{label}: {m}" for m in _read_dates(raw.get("dates"), fields)]
    if raw.get("priority") is not None:
        word = nfc(str(raw["priority"])).strip().lower()
        if word not in PRIORITY_WORDS:
            problem("priority phải là thông thường, ưu tiên hoặc khẩn cấp.")
        else:
            fields["priority"] = PRIORITY_WORDS[word]
    gap = raw.get("gap_seconds", DEFAULT_GAP_SECONDS)
    if isinstance(gap, bool) or not isinstance(gap, int | float):
        problem("gap_seconds phải là số giây, ví dụ 5.")
    else:
        fields["gap_seconds"] = float(gap)
    confirm = raw.get("confirm_warnings", False)
    if not isinstance(confirm, bool):
        problem("confirm_warnings phải là true hoặc false.")
    else:
        fields["confirm_warnings"] = confirm
    if problems:
        return None, problems
    return Entry(**fields), []


def _codes(value: object) -> tuple[str, ...] | None:
    """Codes from a list or one code; None when the value is not that."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in items):
        return None
    return tuple(dict.fromkeys(str(v).strip().upper() for v in items if str(v).strip()))


def _int(value: object) -> int | None:
    """An integer that is not a boolean, or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_rule(raw: dict, fields: dict) -> list[str]:
    """The recurrence fields: exactly one kind, with weekdays and count."""
    kinds = [k for k in ("times", "per_session", "every") if raw.get(k) is not None]
    if not kinds:
        return ["thiếu quy tắc lặp: ghi times, per_session hoặc every."]
    if len(kinds) > 1:
        return [f"chỉ ghi một quy tắc lặp, không ghi cùng lúc {' và '.join(kinds)}."]
    kind = kinds[0]
    fields["kind"] = kind
    problems: list[str] = []
    try:
        if kind == "times":
            value = raw["times"]
            text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
            fields["times"] = parse_times(text)
        elif kind == "per_session":
            n = _int(raw["per_session"])
            if n is None:
                problems.append("per_session phải là số lần trong mỗi buổi, ví dụ 1.")
            fields["per_session"] = n or 0
        else:
            problems += _read_every(raw["every"], fields)
    except RecurrenceError as exc:
        problems.append(exc.message)
    weekdays = raw.get("weekdays")
    if weekdays is not None:
        try:
            if isinstance(weekdays, list):
                if not all(_int(d) is not None for d in weekdays):
                    raise RecurrenceError("weekdays là các số 1 (thứ Hai) đến 7 (Chủ nhật).")
                fields["weekdays"] = weekday_set(weekdays)
            else:
                fields["weekdays"] = weekday_set(str(weekdays))
        except RecurrenceError as exc:
            problems.append(exc.message)
    count = raw.get("count")
    if count is not None:
        if _int(count) is None:
            problems.append("count phải là số nguyên, ví dụ 20.")
        else:
            fields["count"] = count
    return problems


def _read_every(value: object, fields: dict) -> list[str]:
    """every: {minutes: N, from: "HH:MM", to: "HH:MM"}."""
    if not isinstance(value, dict):
        return ['every phải có dạng {minutes: 30, from: "06:00", to: "18:00"}.']
    problems = [
        f"trường “every.{k}” không hợp lệ; dùng minutes, from, to."
        for k in value
        if k not in EVERY_FIELDS
    ]
    minutes = _int(value.get("minutes"))
    if minutes is None:
        problems.append("every.minutes phải là số phút, ví dụ 30.")
    fields["every_minutes"] = minutes or 0
    for name, target in (("from", "window_start"), ("to", "window_end")):
        if value.get(name) is None:
            problems.append(f"thiếu every.{name} (giờ dạng HH:MM).")
            continue
        found = parse_times(str(value[name]))
        if len(found) != 1:
            problems.append(f"every.{name} chỉ là một giờ, ví dụ 06:00.")
        fields[target] = found[0]
    return problems


def _read_dates(value: object, fields: dict) -> list[str]:
    """dates: {start, end | days}."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return [
            "dates phải có dạng {start: 2026-11-28, end: 2026-12-04} hoặc {start: today, days: 14}."
        ]
    problems = [
        f"trường “dates.{k}” không hợp lệ; dùng start, end hoặc days."
        for k in value
        if k not in DATE_FIELDS
    ]
    for name in ("start", "end"):
        if value.get(name) is not None:
            day = _day(value[name])
            if day is None:
                problems.append(
                    f"dates.{name} “{value[name]}” phải là ngày YYYY-MM-DD, today hoặc today+N."
                )
            fields[name] = day
    if value.get("days") is not None:
        days = _int(value["days"])
        if days is None or days < 1:
            problems.append("dates.days phải là số ngày từ 1 trở lên.")
        elif value.get("end") is not None:
            problems.append("dates chỉ ghi một trong hai: end hoặc days.")
        fields["days"] = days
    return problems


def _day(value: object) -> DaySpec | None:
    """An ISO date, a YAML date, or today / today+N; None when it is none of them."""
    if isinstance(value, datetime):
        return None  # a date with a time of day: the rule's times say when
    if isinstance(value, date):
        return value
    text = nfc(str(value)).strip().lower()
    match = _RELATIVE_RE.fullmatch(text)
    if match:
        return RelativeDay(int(match[2] or 0))
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# --- Importing --------------------------------------------------------------------------------


@dataclass
class EntryResult:
    """What the import did with one entry (or with a schedule no longer in its file)."""

    source_key: str
    outcome: str  # "created", "replaced", "unchanged", "kept" or "deleted"
    message: str = ""

    @property
    def label(self) -> str:
        """The outcome in Vietnamese."""
        return OUTCOME_LABELS[self.outcome]


def find_files(folder: Path) -> list[Path]:
    """The schedule files of a folder (*.yaml, *.yml), in name order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def import_paths(
    actor: User, paths: Iterable[Path], *, prune: bool = False, dry_run: bool = False
) -> list[EntryResult]:
    """Read every file, then import them all in one transaction; see import_files()."""
    files: list[ScheduleFile] = []
    problems: list[str] = []
    for path in paths:
        try:
            files.append(read_file(path))
        except ScheduleFileError as exc:
            problems += exc.problems
    if problems:
        raise ScheduleFileError(problems)
    return import_files(actor, files, prune=prune, dry_run=dry_run)


def import_files(
    actor: User, files: Sequence[ScheduleFile], *, prune: bool = False, dry_run: bool = False
) -> list[EntryResult]:
    """Make the actor's schedules match the files: create, replace, leave or prune.

    All or nothing: raise ScheduleFileError listing every problem (nothing saved), or commit
    the whole run (unless dry_run, which rolls it back after reporting).
    """
    stems: dict[str, str] = {}
    for f in files:
        if f.stem in stems:
            raise ScheduleFileError(
                [f"{f.name}: trùng tên với {stems[f.stem]}; mỗi tên tệp chỉ nhập một lần."]
            )
        stems[f.stem] = f.name
    if not can(actor, Permission.SCHEDULE_EDIT):
        raise PermissionDenied(
            f"Người dùng {actor.username} ({actor.role.label}) không được lập lịch phát; hãy "
            "dùng tài khoản kỹ thuật viên phát thanh hoặc người duyệt."
        )
    actor_id = actor.id
    with _all_or_nothing(commit=not dry_run):
        actor = db.session.get(User, actor_id)
        today = clock.now().astimezone(LOCAL_TZ).date()
        resolved, problems = _resolve_all(files)
        if problems:
            raise ScheduleFileError(problems)
        results: list[EntryResult] = []
        for f in files:
            for entry in f.entries:
                try:
                    results.append(_apply(actor, entry, resolved[entry.source_key], today))
                except DomainError as exc:
                    problems.append(f"{entry.label}: {_explain(exc)}")
            try:
                results += _left_over(actor, f, prune)
            except DomainError as exc:
                problems.append(f"{f.name}: {exc.message}")
        if problems:
            raise ScheduleFileError(problems)
    return results


@contextmanager
def _all_or_nothing(commit: bool = True) -> Iterator[None]:
    """Run the block on a session whose commits stay inside one outer transaction.

    The caller's session must have nothing pending: the block writes on its own connection,
    and SQLite allows one writer at a time.
    """
    outer = db.session.registry()
    if outer.new or outer.dirty or outer.deleted:
        raise RuntimeError("commit or roll back before importing schedule files")
    outer.commit()
    connection = db.engine.connect()
    transaction = connection.begin()
    if connection.dialect.name == "sqlite":
        # pysqlite opens a transaction only before a write: without this BEGIN the first
        # SAVEPOINT would open it, and releasing that savepoint would commit everything.
        connection.exec_driver_sql("BEGIN")
    inner = Session(bind=connection, join_transaction_mode="create_savepoint")
    db.session.registry.set(inner)
    try:
        yield
        if commit:
            transaction.commit()
        else:
            transaction.rollback()
    except BaseException:
        transaction.rollback()
        raise
    finally:
        inner.close()
        db.session.registry.set(outer)
        connection.close()
        outer.expire_all()


@dataclass
class _Targets:
    """An entry's names resolved to rows."""

    script: Script
    stations: list[Station]
    units: list[Unit]


def _resolve_all(files: Sequence[ScheduleFile]) -> tuple[dict[str, _Targets], list[str]]:
    """Find every entry's script, stations and units; list what is not found."""
    resolved: dict[str, _Targets] = {}
    problems: list[str] = []
    for f in files:
        for entry in f.entries:
            found = []
            script = _find_script(entry.script)
            if isinstance(script, str):
                found.append(script)
            stations = []
            for code in entry.stations:
                station = db.session.scalar(select(Station).where(Station.code == code))
                if station is None:
                    found.append(f"không có đài mã “{code}”.")
                stations.append(station)
            units = []
            for code in entry.units:
                unit = db.session.scalar(select(Unit).where(Unit.code == code))
                if unit is None:
                    found.append(f"không có đơn vị mã “{code}”.")
                units.append(unit)
            problems += [f"{entry.label}: {m}" for m in found]
            if not found:
                resolved[entry.source_key] = _Targets(script, stations, units)
    return resolved, problems


def _find_script(name: str) -> Script | str:
    """A script by its source file name, else by its exact title; or the problem."""
    script = db.session.scalar(select(Script).where(Script.source_key == name))
    if script is not None:
        return script
    matches = db.session.scalars(select(Script).where(Script.title == name)).all()
    if len(matches) == 1:
        return matches[0]
    if matches:
        return (
            f"có {len(matches)} kịch bản cùng tiêu đề “{name}”; hãy ghi tên tệp kịch bản "
            "(trong scripts_vi, không có .md)."
        )
    return (
        f"không có kịch bản “{name}” (ghi tên tệp trong scripts_vi, không có .md, hoặc tiêu đề "
        "đúng từng chữ)."
    )


def _input(actor: User, entry: Entry, targets: _Targets, today: date) -> ScheduleInput:
    """The schedule the entry asks for, with relative dates read on the given day."""
    start, end = _dates(entry, targets.script, today)
    recurrence = Recurrence(
        kind=entry.kind,  # type: ignore[arg-type]
        start_date=start,
        end_date=end,
        times=entry.times,
        per_session=entry.per_session,
        every_minutes=entry.every_minutes,
        window_start=entry.window_start,
        window_end=entry.window_end,
        weekdays=entry.weekdays,
        count=entry.count,
    )
    return ScheduleInput(
        script=targets.script,
        recurrence=recurrence,
        stations=targets.stations,
        units=[actor.unit] if entry.all_stations else targets.units,
        priority=entry.priority,
        gap_seconds=entry.gap_seconds,
        confirm_warnings=entry.confirm_warnings,
    )


def _dates(entry: Entry, script: Script, today: date) -> tuple[date, date]:
    """The entry's first and last dates."""

    def on(day: DaySpec) -> date:
        return day.on(today) if isinstance(day, RelativeDay) else day

    if entry.start is None and entry.end is None and entry.days is None:
        return _default_dates(script, today)
    start = on(entry.start) if entry.start is not None else today
    if entry.days is not None:
        return start, start + timedelta(days=entry.days - 1)
    if entry.end is not None:
        return start, on(entry.end)
    return start, _default_dates(script, start)[1]


def _default_dates(script: Script, today: date) -> tuple[date, date]:
    """default_dates(), with the message saying what to write in the file."""
    try:
        return default_dates(script, today)
    except ValidationError as exc:
        raise ValidationError(
            "kịch bản không ghi ngày hết hiệu lực; hãy ghi dates: {start: …, end: …} hoặc "
            "{start: today, days: N}.",
            exc.fields,
        ) from exc


def _apply(actor: User, entry: Entry, targets: _Targets, today: date) -> EntryResult:
    """Create, replace or leave the entry's schedule."""
    existing = _active(entry.source_key)
    if len(existing) == 1:
        old = existing[0]
        saved_on = old.created_at.astimezone(LOCAL_TZ).date()
        if _same(old, entry, _input(actor, entry, targets, saved_on)):
            return EntryResult(entry.source_key, "unchanged", _newer_approval(old))
    data = _input(actor, entry, targets, today)
    for old in existing:
        delete_schedule(actor, old)
    schedule = create_schedule(actor, data)
    schedule.source_key = entry.source_key
    db.session.commit()
    carried = sum(_carry_cancellations(actor, old, schedule) for old in existing)
    outcome = "replaced" if existing else "created"
    planned = db.session.scalar(
        select(func.count()).select_from(Airing).where(Airing.schedule_id == schedule.id)
    )
    stations = resolve_stations(schedule.stations, schedule.units)
    message = f"{len(stations)} đài, {planned} lượt phát đã lên lịch"
    if carried:
        message += f", giữ {carried} lần hủy của lịch cũ"
    record_event(
        "schedule.import",
        "schedule",
        schedule.id,
        f"Nhập lịch “{schedule.script.title}” từ tệp {entry.file}, mục {entry.key} "
        f"({OUTCOME_LABELS[outcome]})",
        actor=actor,
        unit_id=schedule.unit_id,
        details={
            "source_key": entry.source_key,
            "outcome": outcome,
            "replaced": [old.id for old in existing],
            "cancellations_carried": carried,
        },
    )
    db.session.commit()
    return EntryResult(entry.source_key, outcome, message)


def _active(source_key: str) -> list[Schedule]:
    """Active schedules carrying the key (one, unless two imports raced)."""
    return list(
        db.session.scalars(
            select(Schedule)
            .where(Schedule.source_key == source_key, Schedule.status == ScheduleStatus.ACTIVE)
            .order_by(Schedule.id)
        )
    )


def _same(schedule: Schedule, entry: Entry, data: ScheduleInput) -> bool:
    """Whether the schedule already is what the entry asks for (cancellations aside)."""
    rule = replace(stored_rule(schedule.rrule), exceptions=frozenset())
    return (
        schedule.script_id == data.script.id
        and (entry.priority is None or schedule.priority == entry.priority)
        and abs(schedule.gap_seconds - data.gap_seconds) < 1e-6
        and {s.id for s in schedule.stations} == {s.id for s in data.stations}
        and {u.id for u in schedule.units} == {u.id for u in data.units}
        and rule == data.recurrence
    )


def _newer_approval(schedule: Schedule) -> str:
    """A note when the script has an approved version newer than the one the schedule airs."""
    script = schedule.script
    if script.approved_version_id and script.approved_version_id != schedule.version_id:
        return "kịch bản đã có bản duyệt mới hơn; lịch vẫn phát bản đã duyệt khi lập lịch"
    return ""


def _carry_cancellations(actor: User, old: Schedule, new: Schedule) -> int:
    """Cancel on the new schedule the old one's future cancellations its rule still makes."""
    now = clock.now()
    rows = db.session.scalars(
        select(CancelledOccurrence)
        .where(CancelledOccurrence.schedule_id == old.id, CancelledOccurrence.occurs_at > now)
        .order_by(CancelledOccurrence.station_id.is_not(None), CancelledOccurrence.occurs_at)
    ).all()
    carried = 0
    for row in rows:
        try:
            cancel_occurrence(actor, new, row.station, row.occurs_at, row.reason)
        except DomainError:
            # The new rule has no such airing, or it is cancelled already: nothing to keep.
            continue
        carried += 1
    return carried


def _left_over(actor: User, f: ScheduleFile, prune: bool) -> list[EntryResult]:
    """Active schedules of the file's stem whose entry is gone: report, or delete with prune."""
    keys = {e.source_key for e in f.entries}
    schedules = db.session.scalars(
        select(Schedule)
        .where(
            Schedule.status == ScheduleStatus.ACTIVE,
            Schedule.source_key.startswith(f"{f.stem}/", autoescape=True),
        )
        .order_by(Schedule.source_key, Schedule.id)
    ).all()
    results = []
    for schedule in schedules:
        if schedule.source_key in keys:
            continue
        if not prune:
            results.append(
                EntryResult(schedule.source_key, "kept", "vẫn phát; dùng --prune để xóa")
            )
            continue
        delete_schedule(actor, schedule)
        record_event(
            "schedule.import",
            "schedule",
            schedule.id,
            f"Xóa lịch “{schedule.script.title}” vì mục {schedule.source_key} không còn trong "
            f"tệp {f.name}",
            actor=actor,
            unit_id=schedule.unit_id,
            details={"source_key": schedule.source_key, "outcome": "deleted"},
        )
        db.session.commit()
        results.append(EntryResult(schedule.source_key, "deleted"))
    return results


def _explain(exc: DomainError) -> str:
    """A service error, with what to write in the file when warnings stopped the save."""
    if isinstance(exc, ScheduleProblems) and "confirm" in exc.fields:
        return exc.message + "\nNếu chấp nhận các cảnh báo này, thêm confirm_warnings: true."
    return exc.message


# --- Exporting --------------------------------------------------------------------------------


def schedules_to_export(unit: Unit | None = None, source: str | None = None) -> list[Schedule]:
    """Active schedules, optionally owned by the unit's subtree or of one file stem."""
    query = select(Schedule).where(Schedule.status == ScheduleStatus.ACTIVE)
    if unit is not None:
        query = query.join(Unit, Schedule.unit_id == Unit.id).where(
            Unit.path.startswith(unit.path, autoescape=True)
        )
    if source is not None:
        query = query.where(Schedule.source_key.startswith(f"{source}/", autoescape=True))
    return list(db.session.scalars(query.order_by(Schedule.source_key, Schedule.id)))


def export_schedules(schedules: Sequence[Schedule], source: str | None = None) -> str:
    """The schedules as a schedule file; keys as the file of stem source has them, if given."""
    now = clock.now().astimezone(LOCAL_TZ)
    chunks = [
        f"# Lịch phát xuất từ Loa lúc {now:%H:%M} ngày {now.day}/{now.month}/{now.year} "
        f"(giờ Việt Nam): {len(schedules)} lịch.\n"
        "# Nhập lại: flask schedules import --as TÊN_ĐĂNG_NHẬP <tệp này>\n"
    ]
    for schedule in schedules:
        cancelled = db.session.scalar(
            select(func.count())
            .select_from(CancelledOccurrence)
            .where(CancelledOccurrence.schedule_id == schedule.id)
        )
        note = ""
        if cancelled:
            note = f"# {cancelled} lần phát đã hủy trong ứng dụng không được ghi vào tệp.\n"
        entry = export_entry(schedule, source)
        # default_flow_style=None: short lists and mappings inline, as people write them.
        chunks.append(
            note
            + yaml.safe_dump(
                [entry], allow_unicode=True, sort_keys=False, width=100, default_flow_style=None
            )
        )
    return "\n".join(chunks)


def export_entry(schedule: Schedule, source: str | None = None) -> dict:
    """One schedule as a file entry with absolute dates."""
    if schedule.source_key and source is not None:
        key = schedule.source_key.split("/", 1)[1]
    elif schedule.source_key:
        key = schedule.source_key.replace("/", ".", 1)
    else:
        key = f"lich-{schedule.id}"
    rule = stored_rule(schedule.rrule)
    entry: dict = {"key": key, "script": schedule.script.source_key or schedule.script.title}
    if schedule.stations:
        entry["stations"] = [s.code for s in schedule.stations]
    if schedule.units:
        entry["units"] = [u.code for u in schedule.units]
    if rule.kind == "times":
        entry["times"] = format_times(rule.times)
    elif rule.kind == "per_session":
        entry["per_session"] = rule.per_session
    else:
        entry["every"] = {
            "minutes": rule.every_minutes,
            "from": f"{rule.window_start:%H:%M}",
            "to": f"{rule.window_end:%H:%M}",
        }
    if rule.weekdays != ALL_WEEKDAYS:
        entry["weekdays"] = sorted(rule.weekdays)
    if rule.count is not None:
        entry["count"] = rule.count
    entry["dates"] = {"start": rule.start_date, "end": rule.end_date}
    entry["priority"] = PRIORITY_LABELS[schedule.priority]
    if schedule.gap_seconds != DEFAULT_GAP_SECONDS:
        entry["gap_seconds"] = schedule.gap_seconds
    if _saved_over_warnings(schedule):
        entry["confirm_warnings"] = True
    return entry


def _saved_over_warnings(schedule: Schedule) -> bool:
    """Whether whoever saved the schedule confirmed warnings (its schedule.create event)."""
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "schedule.create", AuditEvent.object_id == schedule.id
        )
    )
    return bool(event and (event.details or {}).get("warnings_confirmed"))
