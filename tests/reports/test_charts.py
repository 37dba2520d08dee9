"""SVG charts: valid XML, one bar per day or station, values to scale, gaps, escaping."""

from __future__ import annotations

import math
from datetime import date, timedelta
from itertools import pairwise
from xml.etree import ElementTree

import pytest

from app.reports import charts

SVG = "{http://www.w3.org/2000/svg}"
NOVEMBER = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]


def parse(markup) -> ElementTree.Element:
    """The chart as XML (fails on anything a browser's XML parser would refuse)."""
    return ElementTree.fromstring(str(markup))


def bars(svg) -> list[ElementTree.Element]:
    """The chart's bars."""
    return svg.findall(f"{SVG}rect[@class='bar']")


def texts(svg) -> list[str]:
    """Every text of the chart (labels, ticks, axis titles)."""
    return ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]


def y_ticks(svg) -> list[tuple[str, float]]:
    """The value axis's tick labels (text right-aligned against the axis) and their heights."""
    return [
        ("".join(t.itertext()), float(t.get("y")))
        for t in svg.iter(f"{SVG}text")
        if t.get("text-anchor") == "end"
    ]


@pytest.mark.parametrize(
    ("value", "top", "step"),
    [
        (0, 1, 0.2),  # an empty chart still has an axis
        (0.3, 0.3, 0.1),
        (1, 1, 0.2),
        (3.7, 4, 1),
        (5, 5, 1),
        (6, 6, 2),
        (7.8, 8, 2),
        (12, 12.5, 2.5),
        (21, 25, 5),
        (26, 30, 10),
        (100, 100, 20),
        (101, 125, 25),
        (1234, 1250, 250),
    ],
)
def test_axis_top_and_step_are_round(value, top, step):
    assert charts.nice_axis(value) == (pytest.approx(top), pytest.approx(step))


@pytest.mark.parametrize(
    ("value", "top", "step"),
    [(0, 1, 1), (0.4, 1, 1), (3, 3, 1), (5, 5, 1), (9, 10, 2), (12, 15, 5), (23, 25, 5)],
)
def test_count_axes_step_in_whole_numbers(value, top, step):
    assert charts.nice_axis(value, whole=True) == (top, step)


@pytest.mark.parametrize("value", [0.3, 0.7, 1, 3.7, 4.5, 5, 6.8, 12, 21, 26, 99, 101, 1234])
def test_axis_ticks_are_round_evenly_spaced_and_reach_the_top(value):
    top, step = charts.nice_axis(value)
    ticks = charts.axis_ticks(top, step)
    assert ticks[0] == 0 and ticks[-1] == pytest.approx(top) and top >= value
    assert 3 <= len(ticks) - 1 <= charts.MAX_TICKS
    # Each tick is a whole number of steps, and the step is 1, 2, 2.5 or 5 × 10^k.
    assert all(t == pytest.approx(n * step) for n, t in enumerate(ticks))
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(mantissa == pytest.approx(m) for m in (1, 2, 2.5, 5))


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0"), (7.0, "7"), (7.8, "7,8"), (1234.5, "1.234,5"), (0.25, "0,2")]
)
def test_numbers_are_written_the_vietnamese_way(value, shown):
    assert charts.vn_number(value) == shown


def test_day_bars_have_one_bar_per_day_to_scale():
    values = [float(n % 8) for n in range(30)]  # 0 to 7 minutes: the axis goes to 8
    svg = parse(
        charts.day_bars(list(zip(NOVEMBER, values, strict=True)), chart_id="c", title="Phút")
    )
    found = bars(svg)
    assert len(found) == 30
    heights = [float(b.get("height")) for b in found]
    full = heights[7] * 8 / 7  # the bar of 7 minutes is 7/8 of the plot
    for value, height in zip(values, heights, strict=True):
        assert height == pytest.approx(full * value / 8, abs=0.02)
    # Bars stand on the same baseline, in day order, and say their value.
    baselines = {round(float(b.get("y")) + float(b.get("height")), 1) for b in found}
    assert len(baselines) == 1
    xs = [float(b.get("x")) for b in found]
    assert xs == sorted(xs)
    assert found[3].find(f"{SVG}title").text == "04/11/2026: 3 phút"
    # The y axis from 0 to its round top, every 2 minutes.
    assert [label for label, _ in y_ticks(svg)] == ["0", "2", "4", "6", "8"]


def test_a_five_minute_axis_is_labelled_in_whole_minutes_on_its_gridlines():
    # Ticks at quarters of the top once read "1,2 / 2,5 / 3,8" on a 0–5 axis.
    svg = parse(charts.day_bars([(NOVEMBER[0], 5.0), (NOVEMBER[1], 3.7)], chart_id="f", title="P"))
    ticks = y_ticks(svg)
    assert [label for label, _ in ticks] == ["0", "1", "2", "3", "4", "5"]
    # Each label sits on its gridline, the gridlines evenly spaced, the 5-minute bar at the top.
    lines = [
        float(line.get("y1")) for line in svg.iter(f"{SVG}line") if line.get("x1") != line.get("x2")
    ]
    assert [y + 4 for y in lines] == pytest.approx([y for _, y in ticks])
    gaps = {round(a - b, 2) for a, b in pairwise(lines)}
    assert len(gaps) == 1
    tallest = bars(svg)[0]
    assert float(tallest.get("y")) == pytest.approx(lines[-1])


def test_station_axis_ticks_are_round_and_line_up_with_the_bars():
    svg = parse(charts.station_bars([("A", 6.8), ("B", 1.0)], chart_id="s", title="S"))
    ticks = [
        ("".join(t.itertext()), float(t.get("x")))
        for t in svg.iter(f"{SVG}text")
        if t.get("text-anchor") == "middle" and "axis-title" not in (t.get("class") or "")
    ]
    assert [label for label, _ in ticks] == ["0", "2", "4", "6", "8"]
    zero, eight = ticks[0][1], ticks[-1][1]
    a = bars(svg)[0]
    assert float(a.get("width")) == pytest.approx((eight - zero) * 6.8 / 8, abs=0.01)


def test_compliance_axis_is_quarters_of_a_hundred():
    svg = parse(charts.compliance_line([(NOVEMBER[0], 60.0)], chart_id="k", title="%"))
    assert [label for label, _ in y_ticks(svg)] == ["0", "25", "50", "75", "100"]


def test_day_bars_are_labelled_in_vietnamese_and_print_in_black_and_white():
    svg = parse(charts.day_bars([(d, 1.0) for d in NOVEMBER], chart_id="c", title="Phút"))
    labels = texts(svg)
    assert "Ngày (tháng 11/2026)" in labels and "Phút phát sóng" in labels
    # Hatched and outlined, not colour alone.
    pattern = svg.find(f"{SVG}defs/{SVG}pattern")
    assert pattern.get("id") == "c-hatch" and pattern.find(f"{SVG}path") is not None
    assert all(b.get("fill") == "url(#c-hatch)" and b.get("stroke") for b in bars(svg))
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text == "Phút"
    week = parse(charts.day_bars([(d, 1.0) for d in NOVEMBER[22:29]], chart_id="w", title="T"))
    assert "T2" in "".join(texts(week)) and "23/11" in "".join(texts(week))


def test_a_whole_year_still_has_a_bar_per_day():
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(366)]
    svg = parse(charts.day_bars([(d, 2.0) for d in days], chart_id="y", title="Năm"))
    assert len(bars(svg)) == 366
    # Labels are thinned out so they stay readable.
    day_labels = [t for t in texts(svg) if "/" in t]
    assert 10 <= len(day_labels) <= 13


def test_station_bars_to_scale_with_full_names_kept():
    long = "Hệ thống truyền thanh cơ sở phường Phú Thủy, thành phố Phan Thiết"
    svg = parse(
        charts.station_bars([("A · Đài A", 6.8), (long, 1.0), ("C", 0.0)], chart_id="s", title="S")
    )
    found = bars(svg)
    assert [float(b.get("data-value")) for b in found] == [6.8, 1.0, 0.0]
    widths = [float(b.get("width")) for b in found]
    assert widths[1] == pytest.approx(widths[0] / 6.8, rel=0.01)
    assert widths[2] == 0
    assert any(t.endswith("…") for t in texts(svg))
    assert long in [t.text for t in svg.iter(f"{SVG}title")]


def test_compliance_line_skips_days_with_nothing_planned():
    values = [None, 100.0, 50.0, None, 0.0, 120.0]
    days = NOVEMBER[:6]
    svg = parse(
        charts.compliance_line(list(zip(days, values, strict=True)), chart_id="k", title="%")
    )
    points = svg.findall(f"{SVG}circle[@class='point']")
    planned = [d.isoformat() for d, v in zip(days, values, strict=True) if v is not None]
    assert [p.get("data-day") for p in points] == planned
    ys = [float(p.get("cy")) for p in points]
    top, bottom = ys[0], ys[2]  # 100 % and 0 %
    assert ys[1] == pytest.approx((top + bottom) / 2)
    assert ys[3] == pytest.approx(top)  # 120 % is drawn at the top of the 0–100 axis
    # Two runs of days with a plan: two line segments, broken at the gap.
    assert len(svg.findall(f"{SVG}polyline")) == 2
    assert "100" in texts(svg) and "Tỉ lệ thực hiện (%)" in texts(svg)


def test_text_is_escaped():
    svg = parse(charts.station_bars([("<b>Đài & “A”</b>", 1.0)], chart_id="e", title="a < b"))
    assert "<b>Đài & “A”</b>" in [t.text for t in svg.iter(f"{SVG}title")]


def test_empty_charts_are_still_valid():
    for markup in (
        charts.day_bars([], chart_id="a", title="A"),
        charts.station_bars([], chart_id="b", title="B"),
        charts.compliance_line([], chart_id="c", title="C"),
    ):
        svg = parse(markup)
        assert bars(svg) == []
