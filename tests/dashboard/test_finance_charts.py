"""The finance page's shapes and charts, without the app: days without calls, the budget
line in view or not, amounts as people read them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dashboard.finance import budget_chart, daily_totals, share, stacked_cost_chart, usd

START, END = date(2026, 3, 30), date(2026, 4, 2)
SERIES = [
    (date(2026, 3, 30), "gpt-4o-mini", Decimal("1.50000000")),
    (date(2026, 3, 30), "gpt-4.1", Decimal("3.25000000")),
    (date(2026, 4, 1), "gpt-4o-mini", Decimal("0.00012000")),
]


def marks(chart) -> list[str]:
    return [layer["mark"]["type"] for layer in chart.to_dict()["layer"]]


def test_daily_totals_cover_every_day_of_the_period() -> None:
    totals = daily_totals(SERIES, START, END)

    assert list(totals["day"]) == ["2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02"]
    assert list(totals["spend"]) == [4.75, 0.0, 0.00012, 0.0]


def test_the_day_axis_has_a_band_for_each_day_even_without_calls() -> None:
    spec = stacked_cost_chart(SERIES, "model", START, END).to_dict()

    assert spec["encoding"]["x"]["scale"]["domain"] == [
        "2026-03-30",
        "2026-03-31",
        "2026-04-01",
        "2026-04-02",
    ]
    assert spec["encoding"]["color"]["field"] == "model"


def test_the_budget_is_a_line_when_spend_comes_near_it() -> None:
    totals = daily_totals(SERIES, START, END)

    assert marks(budget_chart(totals, Decimal("5"), START, END)) == ["line", "rule", "text"]
    far = budget_chart(totals, Decimal("500"), START, END)
    assert marks(far) == ["line", "text"]
    assert "far above this scale" in str(far.to_dict())
    assert "layer" not in budget_chart(totals, Decimal("0"), START, END).to_dict()


def test_amounts_and_shares_as_people_read_them() -> None:
    assert [usd(Decimal(v)) for v in ("0", "1234.5", "0.0162", "0.00540333")] == [
        "$0.00",
        "$1,234.50",
        "$0.0162",
        "$0.005403",
    ]
    assert [share(*pair) for pair in ((1, 4), (0.015, 500), (0, 500), (1, 0))] == [
        "25.0%",
        "under 0.1%",
        "0.0%",
        "0.0%",
    ]
