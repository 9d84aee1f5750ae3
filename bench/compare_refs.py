"""Chat bench, a git ref against the working tree, back to back in one run on this machine.

    python bench/compare_refs.py BASE_REF [--rounds N] [--quiet] [--log-dir DIR]
                                 [-- extra chat_bench.py args]
    python bench/compare_refs.py HEAD -- --quick --fresh-text

It checks BASE_REF out into a temporary `git worktree` (only the repository's worktree
metadata changes; the main work tree and index are never touched), then runs BASE_REF's own
`bench/chat_bench.py` ("base") and the working tree's ("head", /work/main as it is, with its
uncommitted changes) one after the other, base/head/base/head... for `--rounds` rounds (default
1), so that noise on the machine hits both sides alike. Each run starts its own embedded
PostgreSQL, Valkey, fake OpenAI server and API processes, as chat_bench always does, and talks
only to 127.0.0.1. It then prints one table: per configuration and concurrency, base against
head (the median over the rounds) for the API's CPU ms per turn, PostgreSQL's CPU ms per turn,
overhead p50/p95, latency p95 and turns/s, with the relative change. It asserts nothing
about timing. The worktree and every temporary directory are removed at the end, also on
Ctrl-C or SIGTERM (the running bench is stopped with SIGTERM, which makes it stop and delete
its own services first).

Figures: a chat_bench.py that has `--json PATH` is asked for JSON; an older one (a BASE_REF
before that option) is parsed from its printed per-round lines ("c=1 n=20 ... turns/s latency
p50/p95/p99 ... overhead p50/p95/p99 ..." and "API CPU ... ms/turn PostgreSQL CPU ... ms/turn"),
with COLUMNS=400 so that rich does not wrap them.

How each side is guaranteed to run its own code. The virtualenv holds an editable install
of /work/main; setuptools implements it as a meta-path finder that it *appends* to
sys.meta_path, so it is asked only for names the normal path finder did not find on sys.path.
Each side runs `python -u ROOT/bench/chat_bench.py` with cwd ROOT and PYTHONPATH=ROOT (ROOT =
the worktree, or /work/main): the bench process finds `common` in ROOT/bench (the script's
folder is sys.path[0]) and `wellcoach`, `api`, `cli`, `jobs`, `migrations` in ROOT (PYTHONPATH
comes before site-packages); the processes it starts (`python -m uvicorn
api.main:create_asgi_app`, `python -m cli.main kb ingest`, the fake OpenAI server) are started
by that copy's common.py with cwd=its REPO (= ROOT; `-m` puts the cwd first on sys.path) and
inherit PYTHONPATH; migrations, kb/ and data files are found relative to the imported package
files. This is checked, not assumed: PYTHONPATH also holds a probe folder with a
`sitecustomize.py` that, in processes whose environment has COMPARE_REFS_PROBE_DIR, writes at
exit (or on SIGTERM, as uvicorn is stopped; the signal is then re-delivered with its default
disposition) the file every module of those packages (and `common`) was imported from, with
the process's argv and cwd. After each run every record is checked: a module from outside
ROOT, or a run with no record of an API process that imported `api` and `wellcoach` from ROOT
with cwd ROOT, stops the comparison with an error; a one-line summary per run says what was
checked. Both sides use this virtualenv's third-party packages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
BENCH = Path("bench") / "chat_bench.py"
PACKAGES = ("wellcoach", "api", "cli", "jobs", "migrations", "dashboard")
PROBE_ENV = "COMPARE_REFS_PROBE_DIR"
API_ARGV = "api.main:create_asgi_app"
STOP_TIMEOUT = 120.0  # chat_bench stops the API, the fake server, Valkey and PostgreSQL

# the probe: imported by site.py at start-up of every Python process of a run (it is on
# PYTHONPATH); records nothing unless PROBE_ENV is set
PROBE = '''"""compare_refs.py probe: where this process imported the project from.

Written once, at exit or on SIGTERM: uvicorn re-raises the SIGTERM it handled with the
disposition it found, so a process stopped that way dies by the signal and atexit never runs.
The handler records, then re-delivers the signal with the default disposition: the process
ends exactly as it would have.
"""
import atexit
import os
import signal

_done = []


def _compare_refs_record():
    import json
    import sys
    import time

    out = os.environ.get("COMPARE_REFS_PROBE_DIR")
    if not out or _done:
        return
    _done.append(True)
    tops = __TOPS__
    modules = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in tops and module is not None:
            where = getattr(module, "__file__", None)
            if where is None:
                where = next(iter(getattr(module, "__path__", None) or ()), None)
            modules[name] = where
    record = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "modules": modules,
    }
    try:
        path = os.path.join(out, "%d-%d.json" % (os.getpid(), time.monotonic_ns()))
        with open(path, "w") as f:
            json.dump(record, f)
    except OSError:
        pass


def _compare_refs_on_signal(signum, frame):
    _compare_refs_record()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


if os.environ.get("COMPARE_REFS_PROBE_DIR"):
    atexit.register(_compare_refs_record)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _compare_refs_on_signal)
'''.replace("__TOPS__", repr((*PACKAGES, "common")))

console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


# -- figures ----------------------------------------------------------------------------------


@dataclass
class Figures:
    """One configuration at one concurrency in one run."""

    turns: int | None = None
    errors: int | None = None
    queued: int | None = None
    turns_per_s: float | None = None
    lat_p50: float | None = None
    lat_p95: float | None = None
    lat_p99: float | None = None
    ovh_p50: float | None = None
    ovh_p95: float | None = None
    ovh_p99: float | None = None
    api_cpu_ms: float | None = None
    pg_cpu_ms: float | None = None


Key = tuple[str, int]  # (configuration, concurrency)

# (column, attribute, higher is better)
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("API CPU ms/turn", "api_cpu_ms", False),
    ("PG CPU ms/turn", "pg_cpu_ms", False),
    ("ovh p50", "ovh_p50", False),
    ("ovh p95", "ovh_p95", False),
    ("lat p95", "lat_p95", False),
    ("turns/s", "turns_per_s", True),
)


def from_json(data: dict[str, Any]) -> dict[Key, Figures]:
    figures: dict[Key, Figures] = {}
    for r in data["rounds"]:
        lat, ovh = r.get("latency_ms") or {}, r.get("overhead_ms") or {}
        figures[(r["scenario"], int(r["concurrency"]))] = Figures(
            turns=r.get("turns"),
            errors=r.get("errors"),
            queued=r.get("queued"),
            turns_per_s=r.get("turns_per_s"),
            lat_p50=lat.get("p50"),
            lat_p95=lat.get("p95"),
            lat_p99=lat.get("p99"),
            ovh_p50=ovh.get("p50"),
            ovh_p95=ovh.get("p95"),
            ovh_p99=ovh.get("p99"),
            api_cpu_ms=r.get("api_cpu_ms_per_turn"),
            pg_cpu_ms=r.get("pg_cpu_ms_per_turn"),
        )
    return figures


SCENARIO_LINE = re.compile(r"^(?P<name>\S.*?): starting the API")
ROUND_LINE = re.compile(
    r"^\s+c=(?P<c>\d+)\s+n=(?P<n>\d+)\s+(?P<rate>\S+) turns/s\s+"
    r"latency p50/p95/p99 (?P<lat>\S+) ms\s+overhead p50/p95/p99 (?P<ovh>\S+) ms"
)
API_CPU = re.compile(r"API CPU \S+ cores, (?P<ms>\S+) ms/turn")
PG_CPU = re.compile(r"PostgreSQL CPU (?P<ms>\S+) ms/turn")
QUEUED = re.compile(r"\bqueued (?P<n>\d+)")
ERRORS = re.compile(r"\berrors (?P<n>\d+)")


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None  # "?"
    return None if math.isnan(value) else value


def from_text(text: str) -> dict[Key, Figures]:
    """The per-round lines chat_bench prints while it runs (the fallback without --json)."""
    figures: dict[Key, Figures] = {}
    scenario = "?"
    current: Figures | None = None
    for line in text.splitlines():
        if found := SCENARIO_LINE.match(line):
            scenario, current = found["name"], None
            continue
        if found := ROUND_LINE.match(line):
            lat = [number(x) for x in found["lat"].split("/")] + [None] * 3
            ovh = [number(x) for x in found["ovh"].split("/")] + [None] * 3
            current = Figures(
                turns=int(found["n"]),
                turns_per_s=number(found["rate"]),
                lat_p50=lat[0],
                lat_p95=lat[1],
                lat_p99=lat[2],
                ovh_p50=ovh[0],
                ovh_p95=ovh[1],
                ovh_p99=ovh[2],
            )
            figures[(scenario, int(found["c"]))] = current
            continue
        if not line.startswith(" "):  # the round's lines are indented
            current = None
        if current is None:
            continue
        if current.api_cpu_ms is None and (found := API_CPU.search(line)):
            current.api_cpu_ms = number(found["ms"])
        if current.pg_cpu_ms is None and (found := PG_CPU.search(line)):
            current.pg_cpu_ms = number(found["ms"])
        if current.queued is None and (found := QUEUED.search(line)):
            current.queued = int(found["n"])
        if current.errors is None and (found := ERRORS.search(line)):
            current.errors = int(found["n"])
    return figures


# -- the import check -------------------------------------------------------------------------


def inside(path: str | None, root: Path) -> bool:
    if path is None:
        return True  # a namespace package without a location says nothing
    return Path(path).resolve().is_relative_to(root)


def check_imports(probe_dir: Path, root: Path, other: Path) -> str:
    """Every recorded module of the project came from `root`; raises otherwise."""
    records = []
    for path in sorted(probe_dir.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            records.append(json.loads(path.read_text()))
    wrong: list[str] = []
    apis = 0
    kinds: list[str] = []
    seen: set[str] = set()
    for record in records:
        modules: dict[str, str | None] = record.get("modules") or {}
        argv = " ".join(record.get("argv") or [])
        for name, where in modules.items():
            seen.add(name.split(".")[0])
            if not inside(where, root):
                wrong.append(f"pid {record.get('pid')} ({argv[:80]}): {name} from {where}")
        if API_ARGV in argv:
            kinds.append("API")
            if (
                inside(modules.get("api"), root)
                and inside(modules.get("wellcoach"), root)
                and "api" in modules
                and "wellcoach" in modules
                and Path(record.get("cwd", "/")).resolve() == root
            ):
                apis += 1
        elif "chat_bench.py" in argv:
            kinds.append("bench")
        elif "kb ingest" in argv:
            kinds.append("kb ingest")
        elif "openai_server" in argv:
            kinds.append("fake server")
        elif modules:
            kinds.append(Path(record.get("argv", ["?"])[0]).name)
    if wrong:
        raise RuntimeError(f"modules imported from outside {root}:\n  " + "\n  ".join(wrong[:20]))
    if apis == 0:
        raise RuntimeError(
            f"no record of an API process that imported api and wellcoach from {root} "
            f"({len(records)} records in {probe_dir})"
        )
    counts = {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)}
    return (
        f"{len(records)} Python processes checked ("
        + ", ".join(f"{n} {kind}" if n > 1 else kind for kind, n in counts.items())
        + f"): {', '.join(sorted(seen))} all from {root}"
        + (f", none from {other}" if other != root else "")
        + f"; {apis} API process(es) with cwd {root}"
    )


# -- running one side -------------------------------------------------------------------------


@dataclass
class Side:
    label: str  # "base" | "head"
    root: Path
    describe: str
    has_json: bool


@dataclass
class Run:
    side: Side
    index: int
    seconds: float
    figures: dict[Key, Figures]
    source: str  # "json" | "text"
    imports: str


@dataclass
class Child:
    """The chat_bench process now running, and the services folder it announced."""

    proc: subprocess.Popen[bytes] | None = None
    services_dir: Path | None = None
    reader: threading.Thread | None = None
    lines: list[str] = field(default_factory=list)


CURRENT = Child()


def read_output(stream: IO[bytes], prefix: str, echo: bool, log: IO[str] | None) -> None:
    """Until the bench closes its output (also while it stops after an interrupt, so that it
    never blocks on a full pipe)."""
    try:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            CURRENT.lines.append(line)
            if CURRENT.services_dir is None and (
                found := re.match(r"embedded PostgreSQL and Valkey in (\S+)", line)
            ):
                CURRENT.services_dir = Path(found[1])
            if log is not None:
                log.write(line + "\n")
            if echo:
                console.out(f"{prefix} {line}", highlight=False)
    finally:
        if log is not None:
            log.close()


def run_side(
    side: Side,
    other: Path,
    index: int,
    extra: list[str],
    work: Path,
    *,
    echo: bool,
    log_dir: Path | None,
) -> Run:
    probe_out = work / f"probe-{side.label}-{index}"
    probe_out.mkdir()
    json_path = work / f"{side.label}-{index}.json"
    argv = [sys.executable, "-u", str(side.root / BENCH), *extra]
    if side.has_json:
        argv += ["--json", str(json_path)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(side.root), str(work / "probe"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env[PROBE_ENV] = str(probe_out)
    env["COLUMNS"] = "400"  # rich: no wrapped lines from a bench without a fixed width
    prefix = f"[{side.label} {index}]"
    console.print(
        f"{prefix} {side.describe}: {' '.join(argv[2:])} (cwd {side.root})",
        markup=False,
    )
    log = (log_dir / f"{side.label}-{index}.log").open("w") if log_dir is not None else None
    CURRENT.lines, CURRENT.services_dir = [], None
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=side.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches only us: we stop it with one SIGTERM
    )
    CURRENT.proc = proc
    assert proc.stdout is not None
    CURRENT.reader = threading.Thread(
        target=read_output, args=(proc.stdout, prefix, echo, log), daemon=True
    )
    CURRENT.reader.start()
    code = proc.wait()
    CURRENT.reader.join(timeout=10)
    CURRENT.proc = None
    seconds = time.perf_counter() - started
    text = "\n".join(CURRENT.lines)
    if code != 0:
        tail = "\n".join(CURRENT.lines[-25:])
        raise RuntimeError(f"{prefix} chat_bench.py exited with code {code}:\n{tail}")
    imports = check_imports(probe_out, side.root, other)
    source = "text"
    figures: dict[Key, Figures] = {}
    if side.has_json and json_path.exists():
        figures, source = from_json(json.loads(json_path.read_text())), "json"
    else:
        figures = from_text(text)
    if not figures:
        raise RuntimeError(f"{prefix} no figures found in chat_bench.py's output")
    console.print(
        f"{prefix} done in {seconds:.0f}s; {len(figures)} rounds read from "
        f"{source}; imports: {imports}",
        markup=False,
    )
    return Run(side, index, seconds, figures, source, imports)


def stop_child() -> None:
    """Stop the running bench (SIGTERM: it stops and deletes its own services), then make
    sure its services folder is gone."""
    proc = CURRENT.proc
    if proc is not None and proc.poll() is None:
        console.print(f"stopping chat_bench.py (pid {proc.pid})…")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            import psutil

            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child.kill()
            proc.kill()
            proc.wait(timeout=10)
    CURRENT.proc = None
    services = CURRENT.services_dir
    if services is not None and services.exists():  # the bench could not clean up
        console.print(f"removing the bench's services in {services}…")
        try:
            from wellcoach.runtime import postgres, valkey

            valkey.stop_valkey(services / "valkey")
            postgres.stop_postgres(services / "pg", mode="immediate")
        except Exception as exc:  # best effort, then delete anyway
            console.print(f"  could not stop them cleanly: {exc!r}", markup=False)
        shutil.rmtree(services, ignore_errors=True)


# -- git --------------------------------------------------------------------------------------


def git(*args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextlib.contextmanager
def worktree(commit: str, path: Path) -> Iterator[Path]:
    """A detached worktree of `commit` at `path`, removed (with its metadata) at the end."""
    try:
        git("worktree", "add", "--detach", "--quiet", str(path), commit)
        yield path.resolve()
    finally:
        git("worktree", "remove", "--force", str(path), check=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        if str(path) in git("worktree", "list", "--porcelain", check=False):
            git("worktree", "prune", check=False)  # only stale entries (missing folders)


# -- output -----------------------------------------------------------------------------------


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def cell(base: float | None, head: float | None) -> str:
    def f(v: float | None) -> str:
        return "?" if v is None else f"{v:.1f}"

    if base is None or head is None or base == 0:
        return f"{f(base)} → {f(head)}"
    return f"{f(base)} → {f(head)} {(head - base) / base:+.1%}"


def print_table(runs: list[Run], base: Side, head: Side, rounds: int) -> None:
    def by_side(side: Side) -> list[Run]:
        return [r for r in runs if r.side is side]

    keys: list[Key] = []
    for run in (*by_side(head), *by_side(base)):
        keys += [k for k in run.figures if k not in keys]

    def values(side: Side, key: Key, attr: str) -> list[float | None]:
        return [getattr(r.figures[key], attr) if key in r.figures else None for r in by_side(side)]

    def total(side: Side, key: Key, attr: str) -> str:
        found = [int(v) for v in values(side, key, attr) if v is not None]
        return str(sum(found)) if found else "?"

    title = (
        f"chat bench, base {base.describe} → head {head.describe}"
        + (f" (median of {rounds} runs each)" if rounds > 1 else "")
        + "; cells: base → head, relative change"
    )
    table = Table(title=title)
    table.add_column("configuration")
    table.add_column("conc.", justify="right")
    for name, _, _ in METRICS:
        table.add_column(name, justify="right")
    table.add_column("turns b/h", justify="right")
    table.add_column("err+queued b/h", justify="right")
    for key in keys:
        cells = [
            cell(median(values(base, key, attr)), median(values(head, key, attr)))
            for _, attr, _ in METRICS
        ]
        bad = [
            f"{total(side, key, 'errors')}+{total(side, key, 'queued')}" for side in (base, head)
        ]
        table.add_row(
            key[0],
            str(key[1]),
            *cells,
            f"{total(base, key, 'turns')}/{total(head, key, 'turns')}",
            "/".join(bad),
        )
    console.print()
    console.print(table)
    console.print(
        "ms per turn and ms, except turns/s. Relative change = head / base − 1: lower is "
        "better, except turns/s. API CPU ms/turn: CPU time of the API process per answered "
        "turn; PG: the embedded PostgreSQL's; ovh = overhead = latency − upstream (offline: "
        "the whole latency). turns, errors and queued: summed over the runs."
    )
    if rounds > 1:
        console.print("per run (in order), API CPU ms/turn | ovh p95:")
        for key in keys:
            parts = []
            for side in (base, head):
                cpu = " ".join(cell_one(v) for v in values(side, key, "api_cpu_ms"))
                ovh = " ".join(cell_one(v) for v in values(side, key, "ovh_p95"))
                parts.append(f"{side.label} {cpu} | {ovh}")
            console.print(f"  {key[0]} c={key[1]}: " + "; ".join(parts), markup=False)


def cell_one(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


# -- main -------------------------------------------------------------------------------------


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def main(argv: list[str] | None = None) -> int:
    own, extra = split_argv(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        usage="%(prog)s BASE_REF [--rounds N] [--quiet] [--log-dir DIR] "
        "[-- extra chat_bench.py args]",
    )
    parser.add_argument("base_ref", metavar="BASE_REF", help="commit, branch or tag to compare")
    parser.add_argument(
        "--rounds", type=int, default=1, help="base/head pairs, alternated (default 1)"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not echo chat_bench.py's own output"
    )
    parser.add_argument(
        "--log-dir", type=Path, help="also keep each run's output in DIR/{base,head}-N.log"
    )
    args = parser.parse_args(own)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if any(a == "--json" or a.startswith("--json=") for a in extra):
        parser.error("--json is chosen by compare_refs.py itself")

    def _terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    commit = git("rev-parse", "--verify", "--quiet", f"{args.base_ref}^{{commit}}", check=False)
    if not commit:
        parser.error(f"{args.base_ref!r} is not a commit of {REPO}")
    if args.log_dir is not None:
        args.log_dir.mkdir(parents=True, exist_ok=True)

    def cleaning_up() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let the clean-up finish

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="wellcoach-compare-"))
    runs: list[Run] = []
    try:
        (work / "probe").mkdir()
        (work / "probe" / "sitecustomize.py").write_text(PROBE)
        with worktree(commit, work / f"base-{commit[:10]}") as base_root:
            try:
                bench = base_root / BENCH
                if not bench.exists():
                    raise RuntimeError(f"{args.base_ref} ({commit[:10]}) has no {BENCH}")
                base = Side(
                    "base",
                    base_root,
                    f"{args.base_ref} ({commit[:10]})",
                    "--json" in bench.read_text(errors="replace"),
                )
                head = Side("head", REPO, "working tree", True)
                console.print(
                    f"base: {base.describe} in {base_root} (its own --json: "
                    f"{'yes' if base.has_json else 'no, its printed lines are parsed'}); "
                    f"head: {head.describe} {REPO}; {args.rounds} round(s); "
                    f"chat_bench.py args: {' '.join(extra) or '(none)'}",
                    markup=False,
                )

                def run(side: Side, other: Side, i: int) -> Run:
                    return run_side(
                        side,
                        other.root,
                        i,
                        extra,
                        work,
                        echo=not args.quiet,
                        log_dir=args.log_dir,
                    )

                for i in range(1, args.rounds + 1):
                    runs.append(run(base, head, i))
                    runs.append(run(head, base, i))
            finally:
                cleaning_up()
                stop_child()  # before its worktree goes
        print_table(runs, base, head, args.rounds)
    except KeyboardInterrupt:
        console.print("interrupted; everything it started was stopped and removed")
        return 130
    except RuntimeError as exc:
        console.print(f"error: {exc}", markup=False)
        return 1
    finally:
        cleaning_up()
        try:
            stop_child()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    console.print(
        "runs: "
        + ", ".join(f"{r.side.label} {r.index} {r.seconds:.0f}s ({r.source})" for r in runs)
        + f"; total {elapsed:.0f}s ({elapsed / 60:.1f} min)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
