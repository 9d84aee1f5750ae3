"""Screenshots of the dashboard as a person sees it: the login page, the finance page and
the coach's escalation queue,
rendered by headless Chromium (Debian's `chromium`, driven by playwright).

Not a test (pytest does not collect it); run it by hand from the checkout:

    # a throwaway platform: embedded PostgreSQL (+ Valkey unless a Redis answers), a
    # finance account and a sample month of ledger rows, all removed afterwards
    .venv/bin/python -m tests.e2e.screenshot_dashboard /tmp/shots --throwaway

    # the platform of this shell (WELLCOACH_* variables, or the data dir of a running
    # `wellcoach up`), signed in with an existing finance or admin account
    WELLCOACH_SCREENSHOT_PASSWORD=... .venv/bin/python -m tests.e2e.screenshot_dashboard \\
        /tmp/shots --email finance@example.com

It starts `wellcoach dashboard` on a free port, waits for each page to show a known
text (a plain `chromium --screenshot` would capture Streamlit before it renders), and
writes `login.png` and `finance.png` (plus, with `--throwaway`, `status.png` signed in as
an administrator and `queue.png` and `case.png` signed in as a coach with sample
escalations). Needs `pip install playwright` (the `e2e` extra) and
`apt-get install chromium`; no browser is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:  # playwright is the `e2e` extra, imported when the browser starts
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file, not with -m
    sys.path.insert(0, str(ROOT))

from tests.support.services import start_test_services  # noqa: E402
from wellcoach.access import ADMIN_CLI  # noqa: E402
from wellcoach.audit import RequestContext  # noqa: E402
from wellcoach.auth import service as auth  # noqa: E402
from wellcoach.config import AuthSettings, Settings  # noqa: E402
from wellcoach.costs.pricing import load_price_table  # noqa: E402
from wellcoach.crypto.envelope import encode_key, generate_key  # noqa: E402
from wellcoach.db import migrate  # noqa: E402
from wellcoach.escalation import cases, coaches  # noqa: E402
from wellcoach.escalation.service import open_escalation  # noqa: E402
from wellcoach.models import LlmCall  # noqa: E402
from wellcoach.models.enums import EscalationReason, Role, Urgency  # noqa: E402
from wellcoach.platform import Platform, open_platform  # noqa: E402
from wellcoach.runtime.services import ServiceUrls  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 90_000
CONTEXT = RequestContext(source="screenshot")


@dataclass(frozen=True)
class Login:
    email: str
    password: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- a throwaway platform ------------------------------------------------------------


def sample_ledger(today: date, seed: int = 7) -> list[LlmCall]:
    """A month so far of plausible traffic: free users on the small model, premium on the
    mid one, team users on the top one with a third routed down, cache hits, the
    embedding of each question and the odd summary; priced from the price table."""
    prices = load_price_table()
    rng = random.Random(seed)
    users = (
        [(uuid.uuid4(), "free", None) for _ in range(24)]
        + [(uuid.uuid4(), "premium", None) for _ in range(9)]
        + [(uuid.uuid4(), "team", team) for team in ("Rovers", "Harriers") for _ in range(4)]
    )
    models = {"free": "gpt-4o-mini", "premium": "gpt-4.1-mini", "team": "gpt-4.1"}
    rows: list[LlmCall] = []

    def add(when: datetime, user: tuple, model: str, purpose: str, **fields: object) -> None:
        user_id, tier, team = user
        tokens_in = int(fields.pop("tokens_in", rng.randint(600, 1800)))
        tokens_out = int(fields.pop("tokens_out", rng.randint(120, 420)))
        price = prices.price_at(model, when)
        cost = price.cost(tokens_in, tokens_out) if price else Decimal(0)
        cache_hit = bool(fields.pop("cache_hit", False))
        rows.append(
            LlmCall(
                id=uuid.uuid4(),
                created_at=when,
                user_id=user_id,
                tier=tier,
                team=team,
                purpose=purpose,
                provider="openai",
                model=model,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                cost_usd=Decimal(0) if cache_hit else cost,
                saved_usd=cost if cache_hit else Decimal(0),
                cache_hit=cache_hit,
                price_effective_from=price.effective_from if price else None,
                latency_ms=rng.randint(300, 2500),
                status="ok",
                **fields,
            )
        )

    first = today.replace(day=1)
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        for _ in range(rng.randint(60, 140) if day.weekday() < 5 else rng.randint(30, 70)):
            user = rng.choice(users)
            when = datetime.combine(day, day_time(rng.randint(6, 22), rng.randint(0, 59)), UTC)
            message = uuid.uuid4()
            add(when, user, "text-embedding-3-small", "embedding", tokens_out=0, tokens_in=40)
            model, routed = models[user[1]], None
            if user[1] == "team" and rng.random() < 0.35:
                model, routed = "gpt-4.1-mini", "gpt-4.1"
            cached = rng.random() < 0.15
            add(when, user, model, "chat", message_id=message, cache_hit=cached, routed_from=routed)
            if rng.random() < 0.08:
                add(when, user, "gpt-4o-mini", "summary", tokens_in=2400, tokens_out=300)
    return rows


# (urgency, reason, opened this long ago, message, mood scores): one breached, one close
SAMPLE_CASES = [
    (
        Urgency.low,
        EscalationReason.general_inquiry,
        timedelta(hours=72, minutes=25),
        "Could a coach look at my sleep routine before the season starts?",
        (6, 6, 5),
    ),
    (
        Urgency.critical,
        EscalationReason.emergency_support,
        timedelta(minutes=18),
        "I can't stop panicking since the injury, I don't feel safe right now",
        (5, 3, 2, 1),
    ),
    (
        Urgency.high,
        EscalationReason.needs_human_support,
        timedelta(hours=1, minutes=10),
        "I keep losing sleep before every match and I'm scared of letting the team down",
        (7, 5, 4, 4, 3),
    ),
    (
        Urgency.medium,
        EscalationReason.needs_human_support,
        timedelta(hours=5),
        "My coach and I disagree about my training load and I feel stuck",
        (6, 5, 6),
    ),
    (
        Urgency.medium,
        EscalationReason.feedback_complaint,
        timedelta(hours=20),
        "The breathing exercises stopped loading in the app",
        (),
    ),
]


async def seed(platform: Platform, logins: dict[Role, Login], ledger: list[LlmCall]) -> None:
    names = {Role.finance: "Fran Okafor", Role.admin: "Alex Admin", Role.coach: "Carla Rossi"}
    async with platform.unit_of_work() as session:
        for role, login in logins.items():
            await auth.create_user(
                session,
                platform,
                email=login.email,
                password=login.password,
                name=names.get(role),
                role=role,
                verified=True,
                consents={"data_processing": True},
                context=CONTEXT,
            )
        session.add_all(ledger)
        if Role.coach in logins:
            coach = await coaches.add_coach(session, logins[Role.coach].email, sports=["football"])
            for n, (urgency, reason, ago, message, moods) in enumerate(SAMPLE_CASES):
                athlete = await auth.create_user(
                    session,
                    platform,
                    email=f"athlete-{n}-{secrets.token_hex(3)}@example.com",
                    password=secrets.token_urlsafe(12),
                    team="Rovers",
                    verified=True,
                    consents={"data_processing": True},
                    context=CONTEXT,
                )
                escalation = await open_escalation(
                    session,
                    platform.vault,
                    user_id=athlete.id,
                    reason=reason,
                    urgency=urgency,
                    message=message,
                    context={"recent_mood_scores": list(moods)},
                    request=CONTEXT,
                    now=datetime.now(UTC) - ago,
                )
                await cases.triage_escalation(session, platform.vault, escalation)
                await cases.assign_case(
                    session, platform.vault, escalation, coach, actor=ADMIN_CLI, request=CONTEXT
                )


@contextmanager
def throwaway_platform() -> Iterator[tuple[dict[str, str], dict[Role, Login]]]:
    """Services in a temporary directory, migrated and seeded; yields the dashboard's
    environment and the accounts to sign in with."""
    services = start_test_services()
    data_dir = Path(tempfile.mkdtemp(prefix="wellcoach-shots-"))
    try:
        migrate.upgrade(services.database_url)
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            database_url=services.database_url,
            redis_url=services.redis_url,
            master_key=encode_key(generate_key()),
            auth=AuthSettings(bcrypt_rounds=4),
        )
        logins = {
            role: Login(
                f"{role.value}-{secrets.token_hex(3)}@example.com", secrets.token_urlsafe(12)
            )
            for role in (Role.finance, Role.admin, Role.coach)
        }

        async def work() -> None:
            urls = ServiceUrls(services.database_url, services.redis_url, False, False)
            platform = await open_platform(settings, urls)
            try:
                await seed(platform, logins, sample_ledger(datetime.now(UTC).date()))
            finally:
                await platform.close()

        asyncio.run(work())
        assert settings.master_key is not None
        env = {
            "WELLCOACH_DATABASE_URL": services.database_url,
            "WELLCOACH_REDIS_URL": services.redis_url,
            "WELLCOACH_MASTER_KEY": settings.master_key.get_secret_value(),
            "WELLCOACH_DATA_DIR": str(data_dir),
            "WELLCOACH_AUTH__BCRYPT_ROUNDS": "4",
            "WELLCOACH_LOG_LEVEL": "WARNING",
        }
        yield env, logins
    finally:
        services.close()
        shutil.rmtree(data_dir, ignore_errors=True)


# -- the dashboard and the browser -------------------------------------------------


@contextmanager
def running_dashboard(env: dict[str, str]) -> Iterator[str]:
    """`wellcoach dashboard` on a free loopback port, until the block ends."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("wellcoach")), "dashboard"]
    process = subprocess.Popen(
        command,
        env={
            **os.environ,
            **env,
            "WELLCOACH_DASHBOARD__HOST": "127.0.0.1",
            "WELLCOACH_DASHBOARD__PORT": str(port),
        },
        cwd=ROOT,
        start_new_session=True,  # its own process group: streamlit is its child
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"wellcoach dashboard exited ({process.returncode}):\n{error}")
            try:
                if httpx.get(url + "/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the dashboard did not answer on " + url)
            time.sleep(0.25)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def sign_in(page: Page, login: Login) -> None:
    page.get_by_role("textbox", name="Email").fill(login.email)
    page.get_by_role("textbox", name="Password").fill(login.password)
    page.get_by_role("button", name="Sign in").click()


def settled(page: Page) -> None:
    """Streamlit has finished the run: no status widget says it is running, and no
    element of the previous run is still shown faded (stale)."""
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
                 && !document.querySelector('[data-stale="true"]')""",
        timeout=WAIT_MS,
    )


def fit_to_content(page: Page) -> None:
    """Grow the window to the page's content: Streamlit scrolls inside its main block,
    so a full-page screenshot alone would stop at the first screen."""
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    page.set_viewport_size({"width": 1440, "height": int(height) + 120})


def coach_pages(page: Page, out: Path, coach: Login) -> None:
    """The coach's queue, then its critical case opened from it."""
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for(timeout=WAIT_MS)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, coach)
    page.get_by_text("Open a case").wait_for(timeout=WAIT_MS)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=WAIT_MS)
    settled(page)
    page.wait_for_timeout(1000)  # the data grid paints its cells after the run
    page.screenshot(path=out / "queue.png")

    page.locator("[data-testid='stSelectbox']").filter(has_text="Open a case").click()
    page.get_by_role("option").filter(has_text="CRITICAL").click()
    page.get_by_text("Status history").wait_for(timeout=WAIT_MS)
    page.locator("[data-testid='stVegaLiteChart'] svg.marks").first.wait_for(timeout=WAIT_MS)
    page.get_by_role("button", name="Close case").wait_for(timeout=WAIT_MS)
    settled(page)
    fit_to_content(page)
    page.wait_for_timeout(1000)
    fit_to_content(page)  # again, once the grids and the chart have their heights
    page.screenshot(path=out / "case.png", full_page=True)


def screenshots(
    url: str,
    out: Path,
    finance: Login,
    admin: Login | None,
    browser: str,
    coach: Login | None = None,
) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            page.get_by_role("button", name="Sign in").wait_for(timeout=WAIT_MS)
            settled(page)
            page.screenshot(path=out / "login.png")

            sign_in(page, finance)
            page.get_by_text("Spend against the daily budget").wait_for(timeout=WAIT_MS)
            page.get_by_role("button", name="Download CSV").wait_for(timeout=WAIT_MS)
            charts = page.locator("[data-testid='stVegaLiteChart'] svg.marks")
            charts.nth(2).wait_for(timeout=WAIT_MS)
            settled(page)
            fit_to_content(page)
            page.screenshot(path=out / "finance.png", full_page=True)

            if admin is not None:
                page.get_by_role("button", name="Sign out").click()
                page.get_by_role("button", name="Sign in").wait_for(timeout=WAIT_MS)
                page.set_viewport_size({"width": 1440, "height": 900})
                sign_in(page, admin)
                page.get_by_text("Checked at").wait_for(timeout=WAIT_MS)
                settled(page)
                page.screenshot(path=out / "status.png")
            if coach is not None:
                coach_pages(page, out, coach)
        finally:
            chromium.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument(
        "--throwaway", action="store_true", help="a temporary platform with sample data"
    )
    parser.add_argument(
        "--email", help="a finance or admin account (password: WELLCOACH_SCREENSHOT_PASSWORD)"
    )
    parser.add_argument("--chromium", default=CHROMIUM, help="the browser (default: %(default)s)")
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        raise SystemExit(f"no browser at {args.chromium}: apt-get install -y chromium")
    if args.throwaway:
        with throwaway_platform() as (env, logins), running_dashboard(env) as url:
            screenshots(
                url,
                args.out,
                logins[Role.finance],
                logins[Role.admin],
                args.chromium,
                logins[Role.coach],
            )
    else:
        if not args.email:
            parser.error("give --email of an account, or --throwaway")
        password = os.environ.get("WELLCOACH_SCREENSHOT_PASSWORD") or getpass.getpass()
        with running_dashboard({}) as url:
            screenshots(url, args.out, Login(args.email, password), None, args.chromium)
    for name in ("login.png", "finance.png", "status.png", "queue.png", "case.png"):
        if (args.out / name).exists():
            print(args.out.resolve() / name)


if __name__ == "__main__":
    main()
