"""Server-rendered SVG charts for the report pages: no JavaScript, no CDN, print-safe.

Each builder returns one inline <svg> (Markup) that scales to its container's width. Bars are
hatched and outlined and the line's points are marked, so a chart printed in black and white
reads the same as on screen; every bar and point carries its exact value in a <title>, and
the page shows the same figures in a table next to the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

# Drawn at 560 units wide with 13-unit text: readable at the page's width on a computer and,
# kept at least 460 pixels wide (scrolled sideways), on a phone.
WIDTH = 560
FONT = 13
INK = "#1d2430"
GRID = "#b8bec7"
BAR_FILL = "#cfe0f5"
BAR_HATCH = "#1f5fa8"
LINE = "#b3261e"
WEEKDAY_SHORT = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")
# The station chart is narrower: its labels take a fixed share of the width.
STATION_WIDTH = 440
MAX_DAY_LABELS = 10
LINE_GAP = "1.15em"  # between the lines of a day label, whatever size the page sets
LABEL_CHARS = 18
# Gridlines above zero on a value axis: at most this many (and three or more, as the round
# steps are at most 2.5 times apart, unless a count axis ends below 3).
MAX_TICKS = 5
PERCENT_STEP = 25  # a percentage axis is always 0–100: ticks at 25, 50, 75 and 100


def vn_number(value: float, places: int = 1) -> str:
    """A number as Vietnamese pages write it: "12,5", "1.234", "0"."""
    text = f"{value:,.{places}f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    if "," in text:
        text = text.rstrip("0").rstrip(",")
    return "0" if text in ("", "-0") else text


def nice_axis(value: float, *, whole: bool = False) -> tuple[float, float]:
    """The top of an axis from 0 and its tick step, both round: the step is the smallest
    1, 2, 2.5 or 5 × 10^k that reaches value in at most MAX_TICKS steps (a whole number and
    never 2.5 for counts), the top the first tick at or above value (a 0–1 axis for 0)."""
    value = value if value > 0 else 1.0
    raw = value / MAX_TICKS
    power = 10.0 ** math.floor(math.log10(raw))
    step = 10 * power
    for mantissa in (1, 2, 2.5, 5):
        candidate = mantissa * power
        if whole and (candidate < 1 or candidate % 1):
            continue
        if candidate >= raw * (1 - 1e-9):
            step = candidate
            break
    if whole:
        step = max(step, 1.0)
    return round(step * max(1, math.ceil(value / step - 1e-9)), 9), step


def axis_ticks(top_value: float, step: float) -> list[float]:
    """The tick values of an axis from 0 to its top, rounded so 0.1 × 3 is 0.3."""
    count = round(top_value / step)
    return [round(step * n, 9) for n in range(count + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick's value with as many decimals as the step needs: "2,5", "0,25", "100"."""
    places = max(0, 1 - math.floor(math.log10(step)))
    return vn_number(value, places)


def _fmt(value: float) -> str:
    """SVG coordinates with two decimals at most."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _open(
    chart_id: str, height: float, title: str, desc: str, kind: str, width: int = WIDTH
) -> list[str]:
    """The <svg> element, its title and description, and the hatch pattern for bars."""
    cid = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="rp-chart rp-chart-{kind}" id="{cid}" '
        f'viewBox="0 0 {width} {_fmt(height)}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" font-size="{FONT}" fill="{INK}">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
        "<defs>",
        f'<pattern id="{cid}-hatch" patternUnits="userSpaceOnUse" width="6" height="6">',
        f'<rect width="6" height="6" fill="{BAR_FILL}"/>',
        f'<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="{BAR_HATCH}" stroke-width="1.2"/>',
        "</pattern>",
        "</defs>",
    ]


def _y_axis(
    parts: list[str],
    left: float,
    top: float,
    plot_w: float,
    plot_h: float,
    top_value: float,
    step: float,
) -> None:
    """Horizontal grid lines with their values, every step from 0 to the top of the axis."""
    for n, value in enumerate(axis_ticks(top_value, step)):
        y = top + plot_h - plot_h * value / top_value
        dash = "" if n == 0 else ' stroke-dasharray="3 3"'
        colour = INK if n == 0 else GRID
        parts.append(
            f'<line x1="{_fmt(left)}" y1="{_fmt(y)}" x2="{_fmt(left + plot_w)}" '
            f'y2="{_fmt(y)}" stroke="{colour}"{dash}/>'
        )
        parts.append(
            f'<text x="{_fmt(left - 6)}" y="{_fmt(y + 4)}" text-anchor="end">'
            f"{escape(tick_label(value, step))}</text>"
        )
    parts.append(
        f'<line x1="{_fmt(left)}" y1="{_fmt(top)}" x2="{_fmt(left)}" '
        f'y2="{_fmt(top + plot_h)}" stroke="{INK}"/>'
    )


def _axis_title(parts: list[str], x: float, y: float, text: str, vertical: bool = False) -> None:
    rotate = f' transform="rotate(-90 {_fmt(x)} {_fmt(y)})"' if vertical else ""
    kind = "axis-y" if vertical else "axis-x"
    parts.append(
        f'<text class="axis-title {kind}" x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="middle" '
        f'font-weight="bold"{rotate}>'
        f"{escape(text)}</text>"
    )


def _day_labels(days: Sequence[date]) -> tuple[int, list[list[str]]]:
    """Every how many days a label is written, and each label's lines."""
    n = len(days)
    step = 1 if n <= 16 else math.ceil(n / MAX_DAY_LABELS)
    one_month = n > 0 and days[0].replace(day=1) == days[-1].replace(day=1)
    labels = []
    for d in days:
        if n <= 7:
            labels.append([WEEKDAY_SHORT[d.weekday()], f"{d:%d/%m}"])
        elif one_month:
            labels.append([str(d.day)])
        else:
            labels.append([f"{d:%d/%m}"])
    return step, labels


def _x_title(days: Sequence[date], x_label: str) -> str:
    if days and len(days) > 7 and days[0].replace(day=1) == days[-1].replace(day=1):
        return f"{x_label} (tháng {days[0]:%m/%Y})"
    return x_label


def day_bars(
    points: Sequence[tuple[date, float]],
    *,
    chart_id: str,
    title: str,
    y_label: str = "Phút phát sóng",
    x_label: str = "Ngày",
    unit: str = "phút",
    whole: bool = False,
) -> Markup:
    """Vertical bars, one per day (value ≥ 0), on an axis from 0 to a round maximum with
    round ticks (whole ones when the values are counts)."""
    left, right, top, bottom = 60, 10, 14, 60
    plot_w, plot_h = WIDTH - left - right, 180
    height = top + plot_h + bottom
    days = [d for d, _ in points]
    top_value, tick = nice_axis(max((v for _, v in points), default=0), whole=whole)
    desc = "; ".join(f"{d:%d/%m/%Y}: {vn_number(v)} {unit}" for d, v in points) or "Không có ngày."
    parts = _open(chart_id, height, title, desc, "days")
    _y_axis(parts, left, top, plot_w, plot_h, top_value, tick)
    slot = plot_w / max(len(points), 1)
    gap = min(slot * 0.2, 6)
    step, labels = _day_labels(days)
    for n, (day, value) in enumerate(points):
        h = plot_h * value / top_value
        x = left + slot * n + gap / 2
        y = top + plot_h - h
        parts.append(
            f'<rect class="bar" x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(slot - gap)}" '
            f'height="{_fmt(h)}" fill="url(#{escape(chart_id)}-hatch)" stroke="{INK}" '
            f'stroke-width="{0.8 if slot > 4 else 0.3}" data-day="{day.isoformat()}" '
            f'data-value="{_fmt(value)}"><title>{day:%d/%m/%Y}: {escape(vn_number(value))} '
            f"{escape(unit)}</title></rect>"
        )
        if n % step == 0:
            cx = left + slot * n + slot / 2
            lines = "".join(
                f'<tspan x="{_fmt(cx)}" dy="{0 if i == 0 else LINE_GAP}">{escape(t)}</tspan>'
                for i, t in enumerate(labels[n])
            )
            parts.append(f'<text y="{_fmt(top + plot_h + 16)}" text-anchor="middle">{lines}</text>')
    _axis_title(parts, left + plot_w / 2, height - 8, _x_title(days, x_label))
    _axis_title(parts, 16, top + plot_h / 2, y_label, vertical=True)
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def station_bars(
    items: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    title: str,
    x_label: str = "Phút phát sóng",
    unit: str = "phút",
    whole: bool = False,
) -> Markup:
    """Horizontal bars, one per labelled item (a station), on an axis from 0 to a round
    maximum with round ticks (whole ones when the values are counts)."""
    left, right, top, bottom, row = 150, 44, 10, 46, 26
    plot_w = STATION_WIDTH - left - right
    plot_h = row * max(len(items), 1)
    height = top + plot_h + bottom
    top_value, tick = nice_axis(max((v for _, v in items), default=0), whole=whole)
    desc = "; ".join(f"{name}: {vn_number(v)} {unit}" for name, v in items) or "Không có đài."
    parts = _open(chart_id, height, title, desc, "stations", STATION_WIDTH)
    for n, value in enumerate(axis_ticks(top_value, tick)):
        x = left + plot_w * value / top_value
        dash = "" if n == 0 else ' stroke-dasharray="3 3"'
        colour = INK if n == 0 else GRID
        parts.append(
            f'<line x1="{_fmt(x)}" y1="{top}" x2="{_fmt(x)}" y2="{_fmt(top + plot_h)}" '
            f'stroke="{colour}"{dash}/>'
        )
        parts.append(
            f'<text x="{_fmt(x)}" y="{_fmt(top + plot_h + 16)}" text-anchor="middle">'
            f"{escape(tick_label(value, tick))}</text>"
        )
    for n, (name, value) in enumerate(items):
        y = top + row * n
        w = plot_w * value / top_value
        parts.append(
            f'<text x="{left - 8}" y="{_fmt(y + row / 2 + 4)}" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(_short(name))}</text>"
        )
        parts.append(
            f'<rect class="bar" x="{left}" y="{_fmt(y + 4)}" width="{_fmt(w)}" '
            f'height="{row - 8}" fill="url(#{escape(chart_id)}-hatch)" stroke="{INK}" '
            f'stroke-width="0.8" data-value="{_fmt(value)}"><title>{escape(name)}: '
            f"{escape(vn_number(value))} {escape(unit)}</title></rect>"
        )
        parts.append(
            f'<text x="{_fmt(left + w + 5)}" y="{_fmt(y + row / 2 + 4)}">'
            f"{escape(vn_number(value))}</text>"
        )
    _axis_title(parts, left + plot_w / 2, height - 8, x_label)
    parts.append("</svg>")
    return Markup("".join(parts))


def compliance_line(
    points: Sequence[tuple[date, float | None]],
    *,
    chart_id: str,
    title: str,
    y_label: str = "Tỉ lệ thực hiện (%)",
    x_label: str = "Ngày",
) -> Markup:
    """A line with marked points over days, 0–100 %; days with nothing planned (None) are a
    gap in the line and have no point."""
    left, right, top, bottom = 60, 10, 14, 60
    plot_w, plot_h = WIDTH - left - right, 180
    height = top + plot_h + bottom
    days = [d for d, _ in points]
    desc = (
        "; ".join(
            f"{d:%d/%m/%Y}: {'không có kế hoạch' if v is None else vn_number(v) + ' %'}"
            for d, v in points
        )
        or "Không có ngày."
    )
    parts = _open(chart_id, height, title, desc, "days")
    _y_axis(parts, left, top, plot_w, plot_h, 100, PERCENT_STEP)
    slot = plot_w / max(len(points), 1)
    step, labels = _day_labels(days)

    def xy(n: int, value: float) -> tuple[float, float]:
        clamped = min(max(value, 0.0), 100.0)
        return left + slot * n + slot / 2, top + plot_h - plot_h * clamped / 100

    segment: list[str] = []
    segments: list[list[str]] = []
    for n, (_, value) in enumerate(points):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        x, y = xy(n, value)
        segment.append(f"{_fmt(x)},{_fmt(y)}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(
                f'<polyline class="line" points="{" ".join(seg)}" fill="none" stroke="{LINE}" '
                f'stroke-width="2" stroke-linejoin="round"/>'
            )
    radius = 3.5 if slot >= 8 else 2
    for n, (day, value) in enumerate(points):
        if n % step == 0:
            cx = left + slot * n + slot / 2
            lines = "".join(
                f'<tspan x="{_fmt(cx)}" dy="{0 if i == 0 else LINE_GAP}">{escape(t)}</tspan>'
                for i, t in enumerate(labels[n])
            )
            parts.append(f'<text y="{_fmt(top + plot_h + 16)}" text-anchor="middle">{lines}</text>')
        if value is None:
            continue
        x, y = xy(n, value)
        parts.append(
            f'<circle class="point" cx="{_fmt(x)}" cy="{_fmt(y)}" r="{radius}" fill="#fff" '
            f'stroke="{INK}" stroke-width="1.5" data-day="{day.isoformat()}" '
            f'data-value="{_fmt(value)}"><title>{day:%d/%m/%Y}: {escape(vn_number(value))} %'
            f"</title></circle>"
        )
    _axis_title(parts, left + plot_w / 2, height - 8, _x_title(days, x_label))
    _axis_title(parts, 16, top + plot_h / 2, y_label, vertical=True)
    parts.append("</svg>")
    return Markup("".join(parts))
