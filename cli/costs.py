"""`wellcoach costs`: LLM cost reports for finance, and the price table.

Parses the options, calls `wellcoach.costs.reports.cost_report` on the running platform
and shapes its result: rich tables for a terminal, CSV or JSON for finance tools (the
formats themselves are the core's, shared with the dashboard's download).
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli.common import console, err_console, fail, handle_errors, print_json
from wellcoach.config import get_settings
from wellcoach.costs.pricing import load_price_table
from wellcoach.costs.reports import (
    GROUPINGS,
    CostReport,
    ReportRow,
    check_report_request,
    cost_report,
    money,
    report_as_csv,
    report_as_dict,
    report_pseudonym,
)
from wellcoach.errors import InvalidInput
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="LLM cost reports for finance, and the price table.", no_args_is_help=True)

FORMATS = ("table", "csv", "json")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidDate(InvalidInput):
    """Dates are YYYY-MM-DD or `today` (UTC)."""

    code = "invalid_date"


class UnknownFormat(InvalidInput):
    """Reports are printed as table, csv or json."""

    code = "unknown_format"


def parse_day(value: str, option: str) -> date:
    """A UTC day: YYYY-MM-DD, or `today`."""
    text = value.strip()
    if text.lower() == "today":
        return datetime.now(UTC).date()
    try:
        if ISO_DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidDate(f"{option} {value!r} is not a date: use YYYY-MM-DD or today")


@app.command()
@handle_errors
def report(
    start: str = typer.Option(
        ..., "--from", help="First UTC day, YYYY-MM-DD or today.", show_default=False
    ),
    end: str = typer.Option(
        ..., "--to", help="Last UTC day (included), YYYY-MM-DD or today.", show_default=False
    ),
    by: str = typer.Option("day", "--by", help=f"Group by {'|'.join(GROUPINGS)}."),
    output_format: str = typer.Option("table", "--format", help="table, csv or json."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the report to this file instead of the terminal."
    ),
    top: int = typer.Option(10, "--top", help="How many top users to list."),
) -> None:
    """Spend, tokens, calls, savings and top users of a period, grouped one way."""
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    check_report_request(first, last, by)
    if output_format not in FORMATS:
        raise UnknownFormat(f"unknown format {output_format!r}: use table, csv or json")
    if top < 0:
        raise InvalidInput("--top cannot be negative")

    async def work(platform: Platform) -> CostReport:
        pseudonym = report_pseudonym(platform.vault.keyring.current)
        async with platform.unit_of_work() as session:
            return await cost_report(
                session,
                platform.settings,
                start=first,
                end=last,
                by=by,
                pseudonym=pseudonym,
                top=top,
            )

    result = run_with_platform(work)
    if output_format == "json":
        text = json.dumps(report_as_dict(result), indent=2, ensure_ascii=False) + "\n"
    elif output_format == "csv":
        text = report_as_csv(result)
    elif out is None:
        render(console, result)
        return
    else:
        buffer = Console(record=True, width=200, file=io.StringIO(), color_system=None)
        render(buffer, result)
        text = buffer.export_text()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail("cannot_write", f"cannot write {out}: {exc.strerror or exc}", 1)
    err_console.print(f"wrote the {output_format} report to {out}", soft_wrap=True)


def _usd(value: Decimal) -> str:
    return f"{value:,f}"


def _count(value: int) -> str:
    return f"{value:,}"


USAGE_COLUMNS = (
    ("calls", "calls"),
    ("messages", "messages"),
    ("active_users", "active users"),
    ("tokens_in", "tokens in"),
    ("tokens_out", "tokens out"),
    ("tokens_cached", "cached in"),
)
MONEY_COLUMNS = (
    ("cost_usd", "cost"),
    ("cache_savings_usd", "cache savings"),
    ("routing_savings_usd", "routing savings"),
    ("avg_cost_per_message_usd", "per message"),
    ("avg_cost_per_active_user_usd", "per active user"),
)


def _cells(row: ReportRow, columns: tuple[tuple[str, str], ...]) -> list[str]:
    cells = []
    for name, _ in columns:
        value = getattr(row, name)
        cells.append(_usd(value) if isinstance(value, Decimal) else _count(value))
    return cells


def _group_table(result: CostReport, title: str, columns: tuple[tuple[str, str], ...]) -> Table:
    """One line per group and a totals line; numbers fold rather than being cut short
    on a narrow terminal."""
    table = Table(title=title, show_footer=True)
    table.add_column(result.by, footer="total", overflow="fold")
    for (_, header), footer in zip(columns, _cells(result.totals, columns), strict=True):
        table.add_column(header, footer=footer, justify="right", overflow="fold")
    for row in result.rows:
        table.add_row(row.key, *_cells(row, columns))
    return table


def render(out: Console, result: CostReport) -> None:
    """The report as rich tables: usage and cost of each group with a totals line, then
    the summary (budget, savings, infrastructure) and the top users."""
    days = (result.end - result.start).days + 1
    period = f"{result.start} → {result.end} by {result.by}"
    out.print(_group_table(result, f"LLM usage {period}", USAGE_COLUMNS))
    out.print(_group_table(result, f"LLM cost {period} (USD)", MONEY_COLUMNS))

    totals = result.totals
    summary = Table.grid(padding=(0, 2))
    summary.add_column()
    summary.add_column(justify="right")
    summary.add_row("LLM cost", f"${_usd(totals.cost_usd)}")
    summary.add_row(
        f"average per day ({days} d)",
        f"${_usd(money(totals.cost_usd / days))} (daily budget ${result.daily_budget_usd:,.2f})",
    )
    summary.add_row("saved by the cache", f"${_usd(totals.cache_savings_usd)}")
    summary.add_row("saved by routing (vs the top model)", f"${_usd(totals.routing_savings_usd)}")
    summary.add_row("LLM cost per active user", f"${_usd(totals.avg_cost_per_active_user_usd)}")
    summary.add_row(
        "infrastructure per active user", f"${_usd(result.infrastructure_per_active_user_usd)}"
    )
    out.print(summary)
    if result.unpriced_models:
        out.print(
            f"[yellow]no price for: {', '.join(result.unpriced_models)} "
            "(their calls count as $0; see wellcoach costs prices)[/yellow]"
        )
    if result.top_users:
        top = Table(title="top users (pseudonyms)")
        top.add_column("user")
        top.add_column("cost $", justify="right")
        top.add_column("calls", justify="right")
        for user in result.top_users:
            top.add_row(user.user, _usd(user.cost_usd), _count(user.calls))
        out.print(top)


@app.command()
@handle_errors
def prices(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The price table: USD per million input, output and cached input tokens per
    model, from the day each price takes effect."""
    rows = load_price_table(get_settings().costs.prices_file).rows()
    if as_json:
        print_json(
            {
                "currency": "USD",
                "prices": [
                    {
                        "model": row.model,
                        "effective_from": row.effective_from.isoformat(),
                        "input_per_million": f"{row.input_per_million:f}",
                        "output_per_million": f"{row.output_per_million:f}",
                        "cached_per_million": f"{row.cached_per_million:f}",
                    }
                    for row in rows
                ],
            }
        )
        return
    table = Table(title="prices (USD per million tokens)")
    table.add_column("model")
    table.add_column("from")
    for header in ("input", "output", "cached input"):
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(
            row.model,
            row.effective_from.isoformat(),
            f"{row.input_per_million:f}",
            f"{row.output_per_million:f}",
            f"{row.cached_per_million:f}",
        )
    console.print(table)
