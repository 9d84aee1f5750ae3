"""`wellcoach kb`: ingest, inspect, search and evaluate the knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from cli.common import console, err_console, handle_errors, print_json
from wellcoach.platform import Platform, run_with_platform
from wellcoach.rag import service
from wellcoach.rag.evaluation import evaluate, load_eval_set
from wellcoach.rag.ingest import CorpusInvalid, default_kb_path, ingest
from wellcoach.rag.retrieval import SearchFilters

app = typer.Typer(help="The knowledge base.", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Machine-readable output.")


@app.command("ingest")
@handle_errors
def ingest_command(
    path: Path | None = typer.Argument(None, help="Folder of Markdown documents (default: kb/)."),
    full: bool = typer.Option(False, "--full", help="Re-embed every document."),
    as_json: bool = JSON,
) -> None:
    """Validate, chunk and embed what changed since the last run; delete removed documents."""

    async def work(platform: Platform) -> dict[str, Any]:
        root = (path or default_kb_path(platform.settings)).resolve()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            disable=as_json,
            transient=True,
        ) as bar:
            task = bar.add_task("embedding", total=None)
            async with platform.unit_of_work() as session:
                report = await ingest(
                    session,
                    platform.settings,
                    platform.embedder,
                    root,
                    full=full,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        return report.as_dict()

    try:
        report = run_with_platform(work)
    except CorpusInvalid as exc:
        for line in exc.details or []:
            err_console.print(f"[red]invalid[/red] {line}", highlight=False)
        raise
    if as_json:
        print_json(report)
        return
    if not (report["added"] or report["updated"] or report["removed"]):
        console.print(
            f"knowledge base up to date: {report['unchanged']} documents unchanged, "
            f"nothing embedded (version {report['kb_version']})"
        )
        return
    console.print(
        f"added {len(report['added'])}, updated {len(report['updated'])}, "
        f"removed {len(report['removed'])}, unchanged {report['unchanged']}; "
        f"{report['chunks_embedded']} chunks embedded with {report['embedder_id']}; "
        f"version {report['kb_version']}"
    )


@app.command("list")
@handle_errors
def list_command(
    language: str | None = typer.Option(None),
    category: str | None = typer.Option(None),
    sport: str | None = typer.Option(None),
    as_json: bool = JSON,
) -> None:
    """List the ingested documents."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            docs = await service.list_documents(
                session, language=language, category=category, sport=sport
            )
            return [doc.__dict__ for doc in docs]

    rows = run_with_platform(work)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "title", "topic", "sport", "lang", "chunks")
    for row in rows:
        table.add_row(
            row["id"], row["title"], row["topic"], row["sport"], row["language"], str(row["chunks"])
        )
    console.print(table)
    console.print(f"{len(rows)} document(s)")


@app.command("show")
@handle_errors
def show_command(document_id: str, as_json: bool = JSON) -> None:
    """Show one document: metadata, questions and chunks."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            return await service.get_document(session, document_id)

    document = run_with_platform(work)
    if as_json:
        print_json(document)
        return
    console.print(f"[bold]{document['title']}[/bold]  ({document['id']})")
    console.print(
        f"{document['category']}/{document['topic']} · sport {document['sport']} · "
        f"{document['language']} · reviewed {document['last_reviewed']}"
    )
    console.print(f"source: {document['source']}")
    for chunk in document["chunks"]:
        console.rule(f"{chunk['ordinal']}: {chunk['heading'] or '(intro)'}")
        console.print(chunk["content"], highlight=False)


@app.command("stats")
@handle_errors
def stats_command(as_json: bool = JSON) -> None:
    """Version, embedder, and document counts per category and language."""

    async def work(platform: Platform) -> dict[str, Any]:
        async with platform.unit_of_work() as session:
            return await service.stats(session)

    data = run_with_platform(work)
    if as_json:
        print_json(data)
        return
    console.print(
        f"version {data['kb_version']} · embedder {data['embedder_id']} · "
        f"{data['documents']} documents · units {data['units']}"
    )
    table = Table("category", "language", "documents")
    for row in data["by_category_language"]:
        table.add_row(row["category"], row["language"], str(row["documents"]))
    console.print(table)


@app.command("search")
@handle_errors
def search_command(
    query: str,
    sport: str | None = typer.Option(None),
    category: str | None = typer.Option(None),
    language: str | None = typer.Option(None, help="en or it"),
    top_k: int = typer.Option(5, "--top-k", min=1, max=20),
    as_json: bool = JSON,
) -> None:
    """Hybrid search, as the coach's retrieval step sees it."""

    async def work(platform: Platform) -> list[dict[str, Any]]:
        async with platform.unit_of_work() as session:
            result = await service.search_kb(
                session,
                platform.embedder,
                platform.settings,
                query,
                SearchFilters(sport, category, language),
                top_k,
            )
            return [passage.as_dict() for passage in result.passages]

    results = run_with_platform(work)
    if as_json:
        print_json(results)
        return
    for rank, item in enumerate(results, 1):
        console.print(
            f"[bold]{rank}. {item['title']}[/bold] — {item['heading'] or ''} "
            f"[dim]({item['document_id']}, score {item['score']:.3f})[/dim]"
        )
        console.print(item["content"][:400], highlight=False)
        console.print(f"[dim]{item['citation']}[/dim]\n")


@app.command("eval")
@handle_errors
def eval_command(
    eval_set: Path | None = typer.Option(
        None, "--set", help="YAML file or folder (default kb/eval)."
    ),
    min_hit3: float | None = typer.Option(None, help="Fail below this overall hit@3."),
    min_hit3_it: float | None = typer.Option(None, help="Fail below this Italian hit@3."),
    show_misses: bool = typer.Option(False, "--misses", help="List the queries missed at 3."),
    as_json: bool = JSON,
) -> None:
    """hit@1, hit@3 and MRR of retrieval on the labeled set; exits 1 under the thresholds."""

    async def work(platform: Platform) -> tuple[dict[str, Any], float, float]:
        path = eval_set or default_kb_path(platform.settings) / "eval"
        queries = load_eval_set(path)
        async with platform.unit_of_work() as session:
            report = await evaluate(session, platform.embedder, queries, platform.settings.rag)
        rag = platform.settings.rag
        return report.as_dict(), min_hit3 or rag.eval_min_hit3, min_hit3_it or rag.eval_min_hit3_it

    report, floor, floor_it = run_with_platform(work)
    if as_json:
        print_json(report)
    else:
        table = Table("set", "queries", "hit@1", "hit@3", "MRR")
        rows = [("overall", report["overall"])] + list(report["by_language"].items())
        for name, metrics in rows:
            table.add_row(
                name,
                str(metrics["queries"]),
                f"{metrics['hit@1']:.3f}",
                f"{metrics['hit@3']:.3f}",
                f"{metrics['mrr']:.3f}",
            )
        console.print(table)
        if show_misses:
            for miss in report["misses"]:
                console.print(
                    f"[yellow]miss[/yellow] ({miss['language']}) {miss['query']} → "
                    f"{miss['got']} (wanted {miss['relevant']})",
                    highlight=False,
                )
    hit3 = report["overall"]["hit@3"]
    hit3_it = report["by_language"].get("it", {}).get("hit@3", 1.0)
    if hit3 < floor or hit3_it < floor_it:
        err_console.print(
            f"[red]below threshold[/red]: hit@3 {hit3:.3f} (min {floor}), "
            f"Italian {hit3_it:.3f} (min {floor_it})"
        )
        raise typer.Exit(1)
