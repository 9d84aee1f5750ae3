"""Settings: one validated object, read from `WELLCOACH_*` variables and `.env`.

Service URLs are flat (`WELLCOACH_DATABASE_URL`, ...) because operators set them
one by one; tuning knobs live in nested groups (`WELLCOACH_AUTH__ACCESS_TTL_SECONDS`).
An unset database or Redis URL means "use the embedded server".

Where files are looked for never depends on the current folder (docs/adr/0011): the
data dir and the `.env` file are found from the installed package (see `home_dir`).
"""

from __future__ import annotations

import ipaddress
import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "wellcoach"
# names a `.env` file to read instead of the one in `home_dir()`; read before the
# settings, so it is not a setting itself
ENV_FILE_VARIABLE = "WELLCOACH_ENV_FILE"


def source_checkout() -> Path | None:
    """The source checkout this package runs from (an editable install: `make up`), or
    None when it is installed into site-packages (a wheel, a container image)."""
    root = Path(__file__).resolve().parents[1]
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if f'name = "{APP_NAME}"' in pyproject else None


def home_dir() -> Path:
    """Where the platform keeps its files when no setting says otherwise: the checkout it
    runs from, else the user's configuration dir (platformdirs; ~/.config/wellcoach on
    Linux). The same from every folder: never the current one."""
    checkout = source_checkout()
    if checkout is not None:
        return checkout
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_data_dir() -> Path:
    """`<checkout>/var`, or the user's data dir (~/.local/share/wellcoach on Linux)."""
    checkout = source_checkout()
    if checkout is not None:
        return checkout / "var"
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def env_file() -> Path:
    """The `.env` file settings are read from: `WELLCOACH_ENV_FILE`, else `.env` in
    `home_dir()`. A missing file is no error."""
    explicit = os.environ.get(ENV_FILE_VARIABLE)
    if explicit:
        return Path(explicit).expanduser().absolute()
    return home_dir() / ".env"


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:3000"])
    public_url: str | None = None
    # chat turns one API process runs at once; a turn that waits longer than
    # `turn_slot_wait_seconds` for a slot is queued for a worker instead (HTTP 202)
    max_inflight_turns: int = Field(default=32, ge=0)
    turn_slot_wait_seconds: float = Field(default=2.0, ge=0)
    # Retry-After of a 503 when the database pool has no connection free in time
    busy_retry_after_seconds: int = Field(default=2, ge=1)
    # the proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips):
    # comma-separated addresses or networks; empty for none; "*" for any peer (only when
    # nothing but the proxy can reach the API). Per-IP rate limits use that client
    # address: behind an ingress, list its addresses, or every user shares one budget
    trusted_proxies: str = "127.0.0.1,::1"

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        """uvicorn silently treats a malformed entry as a literal that never matches."""
        items = [item.strip() for item in value.split(",") if item.strip()]
        if items == ["*"]:
            return "*"
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"{item!r} is not an IP address or network ('*' stands alone)"
                ) from exc
        return ",".join(items)


class DashboardSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8501


class SupervisorSettings(BaseModel):
    """`wellcoach up`: restarting what dies, stopping everything."""

    # a process or embedded server that dies within `stable_after_seconds` of its start
    # waits `restart_backoff_seconds` before its restart, doubling with each such death,
    # up to `restart_backoff_max_seconds`; one that ran longer restarts at once
    restart_backoff_seconds: float = Field(default=2.0, gt=0)
    restart_backoff_max_seconds: float = Field(default=30.0, gt=0)
    stable_after_seconds: float = Field(default=5.0, ge=0)
    # on Ctrl-C/SIGTERM, how long the processes get to exit before SIGKILL
    stop_timeout_seconds: float = Field(default=10.0, gt=0)


class DatabaseSettings(BaseModel):
    # per process; a chat turn holds a connection only while it reads or writes (not
    # while the model answers), so this covers `api.max_inflight_turns` with room left
    pool_size: int = 20
    max_overflow: int = 20
    pool_timeout_seconds: float = 5.0
    connect_timeout_seconds: float = 3.0
    statement_timeout_ms: int = 15000
    partitions_ahead_months: int = 3
    # the embedded server's settings (ALTER SYSTEM; a restart applies the first ones).
    # initdb's 128 MB of shared buffers stop holding the knowledge base's HNSW graph and
    # heap near 50k chunks and searches then read pages back from the OS cache
    # (bench/retrieval_bench.py, 100k chunks: p95 12 -> 7 ms with 1 GB); autoprewarm
    # (pg_prewarm) reloads those buffers after a restart
    embedded_server: dict[str, str] = Field(
        default_factory=lambda: {
            "shared_buffers": "1GB",
            "effective_cache_size": "4GB",
            "shared_preload_libraries": "pg_prewarm",
        }
    )


class AuthSettings(BaseModel):
    access_ttl_seconds: int = 15 * 60
    refresh_ttl_seconds: int = 7 * 24 * 3600
    bcrypt_rounds: int = 12
    issuer: str = "wellcoach"
    audience: str = "wellcoach-app"
    # every login attempt from one address, failed or not: generous, since a whole team
    # signs in from the club's network; guessing is stopped by counting failures
    login_attempts_per_ip: str = "300/10minutes"


class TierModels(BaseModel):
    """Models a tier may use, cheapest first, and its daily LLM budget per user (USD)."""

    models: list[str]
    daily_budget_usd: float


def _default_tiers() -> dict[str, TierModels]:
    return {
        "free": TierModels(models=["gpt-4o-mini"], daily_budget_usd=0.02),
        "premium": TierModels(models=["gpt-4o-mini", "gpt-4.1-mini"], daily_budget_usd=0.25),
        "team": TierModels(models=["gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1"], daily_budget_usd=1.0),
    }


class LlmSettings(BaseModel):
    provider: Literal["auto", "offline", "openai"] = "auto"
    request_timeout_seconds: float = 20.0
    max_retries: int = 2
    fallback_model: str = "gpt-4o-mini"
    # prices: the versioned table in `wellcoach/costs/prices.toml` (`costs.prices_file`)
    tiers: dict[str, TierModels] = Field(default_factory=_default_tiers)
    # thresholds of query complexity (0-1) to step up to the tier's next model
    complexity_steps: list[float] = Field(default_factory=lambda: [0.35, 0.7])
    max_output_tokens: int = 500
    prompt_token_budget: int = 3000
    history_messages: int = 12
    cache_ttl_seconds: int = 7 * 24 * 3600
    moderation: bool = True


def _default_monthly_budgets() -> dict[str, Decimal]:
    """Per user per month, by tier. A typical turn (~1,500 prompt + 300 reply tokens) costs
    ~$0.0004 on gpt-4o-mini, ~$0.001 on gpt-4.1-mini and ~$0.005 on gpt-4.1 (prices.toml):
    free $0.50 is ~1,200 turns on its one model (the tier's chat quota, 20/hour, is the
    tighter limit for most users); premium $5 ~5,000 turns on its top model; team $20 ~4,000
    top-model turns. Each stays below 30 times the tier's daily budget, so a user at the
    daily cap every day is degraded before the month ends."""
    return {"free": Decimal("0.50"), "premium": Decimal("5"), "team": Decimal("20")}


class CostSettings(BaseModel):
    """The price table and the LLM budgets (`wellcoach.costs.budgets`)."""

    # another price table than the one shipped in the package (same TOML format)
    prices_file: Path | None = None
    # SPEC's alert: daily_llm_cost > $500 (UTC days)
    daily_platform_budget_usd: Decimal = Field(default=Decimal("500"), gt=0)
    # per user and calendar month (UTC), by tier; a tier missing here has no monthly budget
    monthly_budget_per_user_usd: dict[str, Decimal] = Field(
        default_factory=_default_monthly_budgets
    )
    # fractions of a budget whose crossing raises an alert, once per period
    alert_thresholds: list[Decimal] = Field(
        default_factory=lambda: [Decimal("0.8"), Decimal("1.0")]
    )
    # routing degrades at `degrade_at` of any budget (the tier's cheapest model) and at
    # `offline_at` answers with the offline composer: a turn is never refused for cost
    degrade_at: Decimal = Field(default=Decimal("1.0"), gt=0)
    offline_at: Decimal = Field(default=Decimal("1.25"), gt=0)
    # the monthly bill of servers, databases and bandwidth, divided over the month's
    # active users in cost reports (SPEC: infrastructure_cost_per_user); 0 = not reported
    monthly_infrastructure_usd: Decimal = Field(default=Decimal("0"), ge=0)

    @field_validator("monthly_budget_per_user_usd")
    @classmethod
    def _positive_budgets(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if any(budget <= 0 for budget in value.values()):
            raise ValueError("a monthly budget is positive; leave a tier out for none")
        return value

    @field_validator("alert_thresholds")
    @classmethod
    def _positive_and_sorted(cls, value: list[Decimal]) -> list[Decimal]:
        if any(threshold <= 0 for threshold in value):
            raise ValueError("alert thresholds are positive fractions of a budget")
        return sorted(set(value))

    @model_validator(mode="after")
    def _offline_after_degrading(self) -> CostSettings:
        if self.offline_at < self.degrade_at:
            raise ValueError("costs.offline_at must not be below costs.degrade_at")
        return self


class EmergencyResource(BaseModel):
    """One contact a crisis reply gives, worded in the reader's language. The shipped
    ones, per country and in each supported language, are data in
    `wellcoach.chat.safety.resources`; `SafetySettings.resources` can replace them."""

    kind: Literal["emergency", "crisis_line", "directory"]
    name: str
    organisation: str = ""
    contact: str
    note: str = ""

    def line(self) -> str:
        """The resource as every crisis reply and crisis prompt lists it."""
        who = f" ({self.organisation})" if self.organisation else ""
        note = f" — {self.note}" if self.note else ""
        return f"- {self.name}{who}: {self.contact}{note}"


class SafetySettings(BaseModel):
    # replaces the shipped crisis resources of a country (key: ISO 3166-1 alpha-2 code,
    # any case) or, under "fallback", the international ones, in every language; each
    # list names an emergency number and a crisis line (or a directory of them)
    resources: dict[str, list[EmergencyResource]] = Field(default_factory=dict)
    # the country assumed, by the user's language, when the profile has none
    default_country: dict[str, str] = Field(default_factory=lambda: {"it": "IT"})

    @field_validator("resources")
    @classmethod
    def _emergency_and_crisis_line(
        cls, value: dict[str, list[EmergencyResource]]
    ) -> dict[str, list[EmergencyResource]]:
        """A crisis reply must always give both: refuse an override that drops either."""
        for code, listed in value.items():
            kinds = {resource.kind for resource in listed}
            if "emergency" not in kinds or not kinds & {"crisis_line", "directory"}:
                raise ValueError(
                    f"{code}: needs an emergency number and a crisis line (or a directory)"
                )
        return {
            code.upper() if code != "fallback" else code: listed for code, listed in value.items()
        }

    @field_validator("default_country")
    @classmethod
    def _upper_case_countries(cls, value: dict[str, str]) -> dict[str, str]:
        return {language: country.upper() for language, country in value.items()}


class RagSettings(BaseModel):
    embedder: Literal["auto", "use", "openai"] = "auto"
    kb_path: Path | None = None  # default: the kb/ shipped with the code
    chunk_max_chars: int = 1200
    chunk_overlap_chars: int = 200
    top_k: int = 5
    # nearest chunks (passages and questions) the vector leg returns; 40 scores as well
    # as 80 on kb eval and costs half the rows
    candidates: int = 40
    # documents per result slot whose text is fetched for the final rerank (MMR, families)
    shortlist_factor: int = 4
    # HNSW beam; indexes are built with ef_construction 128 (migration 0002)
    ef_search: int = 64
    rrf_k: int = 60
    lexical_weight: float = 0.5
    passage_weight: float = 1.0
    question_weight: float = 1.25
    mmr_lambda: float = 0.85
    sport_boost: float = 0.05
    language_boost: float = 0.05
    max_chunks_per_document: int = 2
    embed_batch: int = 64
    embedder_threads: int = 1
    eval_min_hit3: float = 0.9
    eval_min_hit3_it: float = 0.88


class GatewayPolicy(BaseModel):
    """One row of the API gateway's table. `rate` is `limits` notation ("20/hour",
    "5/10minutes", "1/7days"); `tiers` overrides it per subscription tier."""

    model_config = ConfigDict(extra="forbid")

    rate: str
    per: Literal["ip", "user"]
    # a quota of whole days that resets at midnight UTC, not a rolling 24 hours
    calendar_day: bool = False
    # refuse (503) rather than serve when Redis cannot count
    fail_closed: bool = False
    tiers: dict[str, str] = Field(default_factory=dict)
    description: str = ""

    @field_validator("rate")
    @classmethod
    def _parses(cls, value: str) -> str:
        from limits import parse  # a pure parser; config stays import-light otherwise

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate like '20/hour' or '5/10minutes'") from exc
        return value

    @field_validator("tiers")
    @classmethod
    def _tier_rates_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for rate in value.values():
            cls._parses(rate)
        return value


def _default_policies() -> dict[str, GatewayPolicy]:
    """SPEC.md's API gateway and rate-limiting tables."""
    return {
        "global": GatewayPolicy(
            rate="1000/hour", per="ip", description="every /v1 request, per client address"
        ),
        "requests": GatewayPolicy(
            rate="100/day",
            per="user",
            calendar_day=True,
            tiers={"free": "100/day", "premium": "1000/day", "team": "5000/day"},
            description="every /v1 request of a signed-in user, per day (UTC)",
        ),
        "auth_login": GatewayPolicy(
            rate="5/10minutes",
            per="ip",
            fail_closed=True,
            description="failed logins per client address (and, separately, per account)",
        ),
        "chat_send": GatewayPolicy(
            rate="20/hour",
            per="user",
            tiers={"free": "20/hour", "premium": "100/hour", "team": "500/hour"},
            description="chat messages sent, over REST or Socket.IO",
        ),
        "health_sync": GatewayPolicy(rate="10/hour", per="user", description="health syncs"),
        "escalation": GatewayPolicy(
            rate="3/day",
            per="user",
            description="escalations a user asks for (never critical or emergency ones)",
        ),
        "data_export": GatewayPolicy(rate="1/7days", per="user", description="GDPR exports"),
    }


class RateLimitSettings(BaseModel):
    """The API gateway's policies: a route opts into one by name."""

    enabled: bool = True
    policies: dict[str, GatewayPolicy] = Field(default_factory=_default_policies)
    # how long a request waits for Redis before the gate gives up (and fails open or
    # closed), and how long it then stops asking a Redis that did not answer
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    breaker_seconds: float = Field(default=2.0, ge=0)


class HealthSettings(BaseModel):
    """Health data: the optional InfluxDB store (`WELLCOACH_INFLUX_URL` turns it on;
    PostgreSQL otherwise) and Apple Health uploads."""

    influx_token: SecretStr | None = None
    influx_org: str = "wellcoach"
    influx_bucket: str = "health"
    # sealed uploads wait here for a worker: a volume the API and the workers share
    upload_dir: Path | None = None
    max_upload_mb: int = Field(default=2048, ge=1)


class GdprSettings(BaseModel):
    """Exports, erasure and retention (GDPR Art. 17 and 20)."""

    # an erasure waits this long (the user may cancel) before the data key is destroyed
    erasure_grace_days: float = Field(default=7, ge=0)
    # a finished export can be downloaded this long, then its file is deleted
    export_link_hours: float = Field(default=48, gt=0)
    # messages older than this are dropped, a whole monthly partition at a time
    retention_messages_days: int = Field(default=730, ge=30)
    # audit entries older than this are deleted; None keeps them
    retention_audit_days: int | None = Field(default=None, ge=365)
    # sent or failed emails of the outbox (addresses, bodies) older than this are deleted
    retention_outbox_days: int = Field(default=30, ge=1)


class HealthCheckSettings(BaseModel):
    disk_min_free_percent: float = 10.0
    check_timeout_seconds: float = 2.0


class UrgencySla(BaseModel):
    """How long an escalation of one urgency may wait for a coach's first response."""

    hours: float = Field(gt=0)
    # page the on-call coach at once instead of waiting for the queue to be read
    page_immediately: bool = False

    @property
    def label(self) -> str:
        """As the Escalation Request Contract writes it: "4h", "90m"."""
        minutes = round(self.hours * 60)
        return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _default_sla() -> dict[str, UrgencySla]:
    return {
        "critical": UrgencySla(hours=1, page_immediately=True),
        "high": UrgencySla(hours=4),
        "medium": UrgencySla(hours=24),
        "low": UrgencySla(hours=72),
    }


class EscalationSettings(BaseModel):
    """Human-coach escalations: SLA per urgency (`WELLCOACH_ESCALATION__SLA__HIGH__HOURS`)."""

    sla: dict[str, UrgencySla] = Field(default_factory=_default_sla)
    # an open case is "near its deadline" once this fraction of its SLA has passed
    near_deadline: float = Field(default=0.75, gt=0, lt=1)

    @field_validator("sla")
    @classmethod
    def _every_urgency(cls, value: dict[str, UrgencySla]) -> dict[str, UrgencySla]:
        """A partial override keeps the defaults of the urgencies it leaves out."""
        merged = {**_default_sla(), **value}
        unknown = set(merged) - set(_default_sla())
        if unknown:
            raise ValueError(f"unknown urgencies {sorted(unknown)}; use critical/high/medium/low")
        return merged


class WebhookEndpointSettings(BaseModel):
    """One receiver of signed webhooks. `events` are shell-style patterns
    ("escalation.*", "escalation.assigned", "*")."""

    url: str
    secret: SecretStr
    events: list[str] = Field(default_factory=lambda: ["*"])


class WebhookSettings(BaseModel):
    """Signed webhooks (wellcoach/notify/webhooks.py). Set as JSON, e.g.
    WELLCOACH_WEBHOOKS='{"endpoints": [{"url": "https://x/hook", "secret": "s",
    "events": ["escalation.*"]}]}'. In production an `http://` URL to a host other than
    loopback is refused: its deliveries are recorded dead (`insecure_url`), never sent."""

    endpoints: list[WebhookEndpointSettings] = Field(default_factory=list)
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=20)
    # retry n (1-based) waits backoff_base_seconds * backoff_factor ** (n - 1)
    backoff_base_seconds: int = Field(default=15, ge=1)
    backoff_factor: int = Field(default=4, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WELLCOACH_",
        # looked up once, at import: not in the current folder (docs/adr/0011)
        env_file=env_file(),
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Literal["development", "test", "production"] = "development"
    # absolute; a relative value is taken from `home_dir()`, never the current folder
    data_dir: Path = Field(default_factory=default_data_dir)
    log_level: str = "INFO"
    log_json: bool = True

    database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    master_key: SecretStr | None = None
    previous_master_keys: list[SecretStr] = Field(default_factory=list)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    smtp_url: SecretStr | None = None
    influx_url: str | None = None

    api: ApiSettings = Field(default_factory=ApiSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    costs: CostSettings = Field(default_factory=CostSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    healthcheck: HealthCheckSettings = Field(default_factory=HealthCheckSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    gdpr: GdprSettings = Field(default_factory=GdprSettings)
    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)

    @field_validator("data_dir")
    @classmethod
    def _anchor_data_dir(cls, value: Path) -> Path:
        """The same directory whatever the current folder."""
        value = value.expanduser()
        return value if value.is_absolute() else home_dir() / value

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> Settings:
        if self.env == "production":
            missing = [
                name
                for name, value in (
                    ("WELLCOACH_DATABASE_URL", self.database_url),
                    ("WELLCOACH_REDIS_URL", self.redis_url),
                    ("WELLCOACH_MASTER_KEY", self.master_key),
                )
                if value is None
            ]
            if missing:
                raise ValueError("production refuses embedded defaults; set " + ", ".join(missing))
        return self

    @property
    def health_upload_path(self) -> Path:
        path = self.health.upload_dir or self.data_path / "health_uploads"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    @property
    def data_path(self) -> Path:
        """The data dir as an absolute path, created on first use."""
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def masked(self) -> dict[str, object]:
        """The effective settings with every secret replaced by a mask, for display."""
        masked = _mask(self.model_dump(mode="python"))
        assert isinstance(masked, dict)
        return masked


def _mask(value: object) -> object:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
