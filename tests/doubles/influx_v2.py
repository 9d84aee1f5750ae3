"""A small HTTP test double of the InfluxDB 2.x API, for tests and benchmarks.

No InfluxDB 2 server can be installed here (docs: INFRA-NOTES item 10), so the InfluxDB
health store is tested against this: a real HTTP server on 127.0.0.1 (an ephemeral port,
on its own thread) that the official `influxdb-client` talks to unchanged::

    with InfluxV2Double() as influx:
        client = InfluxDBClient(url=influx.url, token=influx.token, org=influx.org)
        influx.fail_next(503)        # the next request answers HTTP 503
        influx.points                # what was written, parsed (one per series and time)
        influx.requests              # what the clients sent

Endpoints: `POST /api/v2/write` (line protocol, overwriting a point written twice as
InfluxDB does), `POST /api/v2/query` (the subset of Flux the store sends, answered in
annotated CSV like InfluxDB 2; any other shape is refused with 400 rather than guessed),
`POST /api/v2/delete` (predicates `a="x" AND b="y"`), `GET /ping`, `GET /health`.
Errors carry InfluxDB's JSON body: `{"code": "invalid", "message": "..."}`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERSION = "v2.7.11"
_ERROR_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    413: "request too large",
    422: "unprocessable entity",
    429: "too many requests",
    500: "internal error",
    503: "unavailable",
}
_PRECISION_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


class InfluxError(Exception):
    """An answer other than success, with InfluxDB's status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------
# Line protocol
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPoint:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, Any]
    time_ns: int

    @property
    def series_key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (self.measurement, tuple(sorted(self.tags.items())))


def _unescape(text: str, special: str) -> str:
    """Line protocol escapes only `special` with a backslash; other backslashes are
    literal, as InfluxDB reads them."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in special:
            out.append(text[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _split_unescaped(text: str, sep: str, *, quotes: bool = False) -> list[str]:
    """Split on `sep` outside escapes (and outside double quotes when `quotes`)."""
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if quotes and ch == '"':
            in_quotes = not in_quotes
        elif ch == sep and not in_quotes:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    if in_quotes:
        raise ValueError("unterminated string field")
    parts.append("".join(current))
    return parts


def _field_value(raw: str) -> Any:
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise ValueError(f"invalid string field {raw!r}")
        body = raw[1:-1]
        out: list[str] = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body) and body[i + 1] in '"\\':
                out.append(body[i + 1])
                i += 2
                continue
            if ch == '"':
                raise ValueError("unescaped quote in string field")
            out.append(ch)
            i += 1
        return "".join(out)
    if re.fullmatch(r"-?\d+i", raw):
        return int(raw[:-1])
    if re.fullmatch(r"\d+u", raw):
        return _Unsigned(int(raw[:-1]))
    if raw in ("t", "T", "true", "True", "TRUE"):
        return True
    if raw in ("f", "F", "false", "False", "FALSE"):
        return False
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", raw):
        return float(raw)
    raise ValueError(f"invalid field value {raw!r}")


class _Unsigned(int):
    """An `123u` field, kept apart from signed integers for the CSV datatype."""


# a line without any escape or quote inside a string: most lines, read with one regex
_PLAIN_FIELD = r'[^,=\s\\"]+=(?:"[^"\\]*"|[^,\s"\\]+)'
_PLAIN_LINE = re.compile(
    r"([^,\s\\]+)((?:,[^,=\s\\]+=[^,=\s\\]+)*)"
    rf" ({_PLAIN_FIELD}(?:,{_PLAIN_FIELD})*)(?: (-?\d+))?"
)
_PLAIN_FIELDS = re.compile(r'([^,=]+)=("[^"]*"|[^,]+)')


def parse_line(line: str, *, precision_ns: int = 1, now_ns: int | None = None) -> StoredPoint:
    """One line of line protocol, or ValueError saying what is wrong with it."""
    plain = _PLAIN_LINE.fullmatch(line)
    if plain is not None:
        measurement, tag_text, field_text, stamp = plain.groups()
        plain_tags = dict(p.split("=", 1) for p in tag_text[1:].split(",")) if tag_text else {}
        plain_fields = {k: _field_value(v) for k, v in _PLAIN_FIELDS.findall(field_text)}
        if stamp is not None:
            plain_ns = int(stamp) * precision_ns
        else:
            plain_ns = now_ns if now_ns is not None else time.time_ns()
        return StoredPoint(measurement, plain_tags, plain_fields, plain_ns)
    sections = _split_unescaped(line, " ", quotes=True)
    sections = [s for s in sections if s != ""]
    if len(sections) not in (2, 3):
        raise ValueError("expected measurement[,tags] fields [timestamp]")
    series = _split_unescaped(sections[0], ",")
    measurement = _unescape(series[0], ", ")
    if not measurement:
        raise ValueError("missing measurement")
    tags: dict[str, str] = {}
    for pair in series[1:]:
        kv = _split_unescaped(pair, "=")
        if len(kv) != 2 or not kv[0] or not kv[1]:
            raise ValueError(f"invalid tag {pair!r}")
        tags[_unescape(kv[0], ",= ")] = _unescape(kv[1], ",= ")
    fields: dict[str, Any] = {}
    for pair in _split_unescaped(sections[1], ",", quotes=True):
        kv = _split_unescaped(pair, "=", quotes=True)
        if len(kv) < 2 or not kv[0]:
            raise ValueError(f"invalid field {pair!r}")
        fields[_unescape(kv[0], ",= ")] = _field_value("=".join(kv[1:]))
    if len(sections) == 3:
        if not re.fullmatch(r"-?\d+", sections[2]):
            raise ValueError(f"invalid timestamp {sections[2]!r}")
        time_ns = int(sections[2]) * precision_ns
    else:
        time_ns = now_ns if now_ns is not None else time.time_ns()
    return StoredPoint(measurement, tags, fields, time_ns)


# ---------------------------------------------------------------------------
# Times
# ---------------------------------------------------------------------------

_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")


def parse_rfc3339_ns(text: str) -> int:
    match = _RFC3339.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid time {text!r}")
    whole, fraction, zone = match.groups()
    base = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    return int(base.timestamp()) * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def format_rfc3339_nano(ns: int) -> str:
    """Go's RFC3339Nano, what InfluxDB prints: trailing zeros of the fraction dropped."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


# ---------------------------------------------------------------------------
# Flux: the fixed shape the store sends, interpreted over tables
# ---------------------------------------------------------------------------


@dataclass
class _Table:
    key: tuple[str, ...]  # group key column names
    columns: list[str]
    types: dict[str, str]
    rows: list[dict[str, Any]]

    def key_values(self) -> tuple[Any, ...]:
        return self.key_values_of(self.key)

    def key_values_of(self, columns: Iterable[str]) -> tuple[Any, ...]:
        first = self.rows[0] if self.rows else {}
        return tuple(first.get(c) for c in columns)


_STRING = r'"((?:[^"\\]|\\.)*)"'
_TIME = r"(\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))"
_COLUMN_LIST = r'\[\s*((?:"[^"]*"\s*,\s*)*"[^"]*")\s*\]'
_FROM = re.compile(rf"from\(\s*bucket:\s*{_STRING}\s*\)")
_RANGE = re.compile(rf"range\(\s*start:\s*{_TIME}\s*(?:,\s*stop:\s*{_TIME}\s*)?\)")
_FILTER = re.compile(r"filter\(\s*fn:\s*\(r\)\s*=>\s*(.+)\)", re.S)
_COMPARISON = re.compile(rf"r\.(\w+)\s*==\s*{_STRING}")
_PIVOT = re.compile(
    rf"pivot\(\s*rowKey:\s*{_COLUMN_LIST}\s*,\s*columnKey:\s*{_COLUMN_LIST}\s*,"
    rf"\s*valueColumn:\s*{_STRING}\s*\)"
)
_KEEP = re.compile(rf"keep\(\s*columns:\s*{_COLUMN_LIST}\s*\)")
_GROUP = re.compile(r"group\(\s*\)")
_SORT = re.compile(rf"sort\(\s*columns:\s*{_COLUMN_LIST}\s*(?:,\s*desc:\s*(true|false)\s*)?\)")


def _flux_unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _columns(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


def _split_pipeline(query: str) -> list[str]:
    """Stages of `a |> b |> c`, outside string literals."""
    stages: list[str] = []
    current: list[str] = []
    in_string = False
    i = 0
    while i < len(query):
        ch = query[i]
        if in_string and ch == "\\":
            current.append(query[i : i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        if not in_string and query.startswith("|>", i):
            stages.append("".join(current).strip())
            current = []
            i += 2
            continue
        current.append(ch)
        i += 1
    stages.append("".join(current).strip())
    return stages


def _predicate(expression: str) -> Callable[[dict[str, Any]], bool]:
    """`r.a == "x" and r.b == "y"` or `... or ...`; mixing both without parentheses, or
    anything else, is refused."""
    text = expression.strip()
    comparisons = list(_COMPARISON.finditer(text))
    if not comparisons:
        raise InfluxError(400, f"unsupported filter expression: {text}")
    joins: list[str] = []
    position = 0
    for match in comparisons:
        between = text[position : match.start()].strip()
        if position == 0:
            if between:
                raise InfluxError(400, f"unsupported filter expression: {text}")
        else:
            if between not in ("and", "or"):
                raise InfluxError(400, f"unsupported filter expression: {text}")
            joins.append(between)
        position = match.end()
    if text[position:].strip() or len(set(joins)) > 1:
        raise InfluxError(400, f"unsupported filter expression: {text}")
    tests = [(m.group(1), _flux_unquote(m.group(2))) for m in comparisons]
    if joins and joins[0] == "or":
        return lambda row: any(row.get(c) == v for c, v in tests)
    return lambda row: all(row.get(c) == v for c, v in tests)


def _merge_by_key(tables: Iterable[_Table]) -> list[_Table]:
    merged: dict[tuple[Any, ...], _Table] = {}
    for table in tables:
        if not table.rows:
            continue
        values = table.key_values()
        if values in merged:
            target = merged[values]
            target.rows.extend(table.rows)
            for column in table.columns:
                if column not in target.columns:
                    target.columns.append(column)
                    target.types[column] = table.types[column]
        else:
            merged[values] = table
    return list(merged.values())


def _field_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, _Unsigned):
        return "unsignedLong"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    return "string"


class _FluxRun:
    """One query over a snapshot of the points of a bucket."""

    def __init__(self, points: list[StoredPoint]) -> None:
        self.points = points
        self.tables: list[_Table] | None = None

    def source(self, start_ns: int, stop_ns: int) -> None:
        by_series: dict[tuple[Any, ...], _Table] = {}
        selected = [p for p in self.points if start_ns <= p.time_ns < stop_ns]
        selected.sort(key=lambda p: (p.series_key, p.time_ns))
        for point in selected:
            tag_keys = sorted(point.tags)
            for name, value in sorted(point.fields.items()):
                key = ("_start", "_stop", "_field", "_measurement", *tag_keys)
                row = {
                    "_start": start_ns,
                    "_stop": stop_ns,
                    "_time": point.time_ns,
                    "_value": value,
                    "_field": name,
                    "_measurement": point.measurement,
                    **point.tags,
                }
                ident = (point.series_key, name, _field_type(value))
                table = by_series.get(ident)
                if table is None:
                    columns = ["_start", "_stop", "_time", "_value", "_field", "_measurement"]
                    types = {c: "string" for c in columns[4:] + tag_keys}
                    types.update(
                        {
                            "_start": "dateTime:RFC3339",
                            "_stop": "dateTime:RFC3339",
                            "_time": "dateTime:RFC3339",
                            "_value": _field_type(value),
                        }
                    )
                    table = _Table(key, columns + tag_keys, types, [])
                    by_series[ident] = table
                table.rows.append(row)
        self.tables = list(by_series.values())

    def filter(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        for table in self._require():
            table.rows = [row for row in table.rows if predicate(row)]
        self.tables = [t for t in self._require() if t.rows]

    def pivot(self, row_key: list[str], column_key: list[str], value_column: str) -> None:
        if row_key != ["_time"] or column_key != ["_field"] or value_column != "_value":
            raise InfluxError(400, "unsupported pivot")
        # tables that differ only by _field become one, each _time one row of it
        groups: dict[tuple[Any, ...], tuple[_Table, dict[Any, dict[str, Any]]]] = {}
        for table in self._require():
            key = tuple(c for c in table.key if c not in ("_field", "_value"))
            columns = [c for c in table.columns if c in key] + ["_time"]
            ident = (key, tuple(table.key_values_of(key)))
            if ident not in groups:
                types = {c: table.types[c] for c in columns}
                groups[ident] = (_Table(key, columns, types, []), {})
            target, rows = groups[ident]
            for row in table.rows:
                out = rows.setdefault(row["_time"], {c: row.get(c) for c in columns})
                out[row["_field"]] = row["_value"]
                if row["_field"] not in target.types:
                    target.types[row["_field"]] = table.types["_value"]
        pivoted = []
        for target, rows in groups.values():
            target.columns += sorted(set(target.types) - set(target.columns))
            target.rows = sorted(rows.values(), key=lambda row: row["_time"])
            pivoted.append(target)
        self.tables = pivoted

    def keep(self, columns: list[str]) -> None:
        kept = []
        for table in self._require():
            key = tuple(c for c in table.key if c in columns)
            names = [c for c in table.columns if c in columns]
            rows = [{c: row.get(c) for c in names} for row in table.rows]
            kept.append(_Table(key, names, {c: table.types[c] for c in names}, rows))
        self.tables = _merge_by_key(kept)

    def group(self) -> None:
        tables = self._require()
        columns: list[str] = []
        types: dict[str, str] = {}
        rows: list[dict[str, Any]] = []
        for table in tables:
            for column in table.columns:
                if column not in types:
                    columns.append(column)
                    types[column] = table.types[column]
            rows.extend(table.rows)
        self.tables = [_Table((), columns, types, rows)] if rows else []

    def sort(self, columns: list[str], desc: bool) -> None:
        for table in self._require():
            table.rows.sort(
                key=lambda row: tuple((row.get(c) is not None, row.get(c)) for c in columns),
                reverse=desc,
            )

    def _require(self) -> list[_Table]:
        if self.tables is None:
            raise InfluxError(400, "error calling function: range() must follow from()")
        return self.tables


def _format_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "dateTime:RFC3339":
        return format_rfc3339_nano(value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "double":
        return repr(float(value)).removesuffix(".0")
    return str(value)


def annotated_csv(tables: list[_Table], dialect: dict[str, Any]) -> str:
    """What InfluxDB 2 answers a Flux query with: one block per table schema, each with
    the annotation rows asked for, a header, its rows, and an empty line after it."""
    annotations = dialect.get("annotations", ["datatype", "group", "default"])
    header = dialect.get("header", True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    previous: tuple[Any, ...] | None = None
    for number, table in enumerate(tables):
        signature = (
            tuple(table.columns),
            tuple(table.types[c] for c in table.columns),
            table.key,
        )
        if signature != previous:
            if previous is not None:
                out.write("\r\n")
            if "datatype" in annotations:
                writer.writerow(
                    ["#datatype", "string", "long"] + [table.types[c] for c in table.columns]
                )
            if "group" in annotations:
                flags = ["true" if c in table.key else "false" for c in table.columns]
                writer.writerow(["#group", "false", "false", *flags])
            if "default" in annotations:
                writer.writerow(["#default", "_result", ""] + [""] * len(table.columns))
            if header:
                writer.writerow(["", "result", "table", *table.columns])
            previous = signature
        for row in table.rows:
            values = [_format_value(row.get(c), table.types[c]) for c in table.columns]
            writer.writerow(["", "", str(number), *values])
    out.write("\r\n")
    return out.getvalue()


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class _State:
    points: dict[tuple[Any, ...], StoredPoint] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)


class InfluxV2Double:
    """InfluxDB 2 on a free local port, with one org, one bucket and one token."""

    def __init__(
        self, *, token: str = "test-token", org: str = "wellcoach", bucket: str = "health"
    ) -> None:
        self.token = token
        self.org = org
        self.bucket = bucket
        self._lock = threading.Lock()
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> InfluxV2Double:
        handler = type("Handler", (_Handler,), {"double": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        # keep-alive connections of a client still open must not block the shutdown
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            # a short poll: stopping waits up to one interval, once per test
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="influx-v2-double",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> InfluxV2Double:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the double is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- control -------------------------------------------------------------

    @property
    def points(self) -> list[StoredPoint]:
        with self._lock:
            return list(self._state.points.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    def fail_next(self, status: int, n: int = 1) -> None:
        """The next `n` requests (any endpoint) answer `status` with InfluxDB's body."""
        with self._lock:
            self._state.failures.extend([status] * n)

    def reset(self) -> None:
        with self._lock:
            self._state = _State()

    # -- endpoints (called from the handler threads) ------------------------

    def handle(self, request: RecordedRequest) -> tuple[int, str, bytes]:
        with self._lock:
            self._state.requests.append(request)
            failure = self._state.failures.pop(0) if self._state.failures else None
        if failure is not None:
            raise InfluxError(failure, "simulated failure")
        route = (request.method, request.path)
        if route in (("GET", "/ping"), ("HEAD", "/ping")):
            return 204, "", b""
        if route == ("GET", "/health"):
            body = {
                "name": "influxdb",
                "message": "ready for queries and writes",
                "status": "pass",
                "checks": [],
                "version": VERSION,
                "commit": "double",
            }
            return 200, "application/json; charset=utf-8", json.dumps(body).encode()
        if not request.path.startswith("/api/v2/"):
            raise InfluxError(404, "path not found")
        if request.authorization != f"Token {self.token}":
            raise InfluxError(401, "unauthorized access")
        if request.params.get("org") not in (self.org, None):
            raise InfluxError(404, f'organization name "{request.params["org"]}" not found')
        if route == ("POST", "/api/v2/write"):
            self._write(request)
            return 204, "", b""
        if route == ("POST", "/api/v2/query"):
            text = self._query(request)
            return 200, "text/csv; charset=utf-8", text.encode()
        if route == ("POST", "/api/v2/delete"):
            self._delete(request)
            return 204, "", b""
        raise InfluxError(404, "path not found")

    def _check_bucket(self, request: RecordedRequest) -> None:
        bucket = request.params.get("bucket")
        if bucket is None:
            raise InfluxError(400, "bucket is required")
        if bucket != self.bucket:
            raise InfluxError(404, f'bucket "{bucket}" not found')

    def _write(self, request: RecordedRequest) -> None:
        self._check_bucket(request)
        precision = request.params.get("precision", "ns")
        if precision not in _PRECISION_NS:
            raise InfluxError(400, f"invalid precision {precision!r}")
        body = request.body
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        now_ns = time.time_ns()
        parsed: list[StoredPoint] = []
        for number, line in enumerate(body.decode().split("\n"), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                parsed.append(
                    parse_line(line, precision_ns=_PRECISION_NS[precision], now_ns=now_ns)
                )
            except ValueError as exc:
                raise InfluxError(400, f"unable to parse line {number} '{line}': {exc}") from exc
        with self._lock:
            for point in parsed:
                self._state.points[(*point.series_key, point.time_ns)] = point

    def _query(self, request: RecordedRequest) -> str:
        content_type = request.headers.get("content-type", "")
        dialect: dict[str, Any] = {}
        if "application/vnd.flux" in content_type:
            query = request.body.decode()
        else:
            try:
                document = json.loads(request.body or b"{}")
            except json.JSONDecodeError as exc:
                raise InfluxError(400, f"invalid json: {exc}") from exc
            extern = document.get("extern") or {}
            # the client always sends an empty `extern` file; parameters would fill it
            if extern.get("body") or extern.get("imports") or document.get("params"):
                raise InfluxError(400, "the double does not support query parameters")
            if document.get("type", "flux") != "flux":
                raise InfluxError(400, "only Flux queries are supported")
            query = document.get("query", "")
            dialect = document.get("dialect") or {}
        stages = _split_pipeline(query)
        first = _FROM.fullmatch(stages[0])
        if first is None:
            raise InfluxError(400, f"unsupported Flux source: {stages[0]}")
        bucket = _flux_unquote(first.group(1))
        if bucket != self.bucket:
            raise InfluxError(404, f'could not find bucket "{bucket}"')
        run = _FluxRun(self.points)
        for stage in stages[1:]:
            self._apply(run, stage)
        return annotated_csv(run._require(), dialect)

    @staticmethod
    def _apply(run: _FluxRun, stage: str) -> None:
        if match := _RANGE.fullmatch(stage):
            if run.tables is not None:
                raise InfluxError(400, "the double supports range() right after from() only")
            stop = parse_rfc3339_ns(match.group(2)) if match.group(2) else time.time_ns()
            run.source(parse_rfc3339_ns(match.group(1)), stop)
        elif match := _FILTER.fullmatch(stage):
            run.filter(_predicate(match.group(1)))
        elif match := _PIVOT.fullmatch(stage):
            run.pivot(
                _columns(match.group(1)), _columns(match.group(2)), _flux_unquote(match.group(3))
            )
        elif match := _KEEP.fullmatch(stage):
            run.keep(_columns(match.group(1)))
        elif _GROUP.fullmatch(stage):
            run.group()
        elif match := _SORT.fullmatch(stage):
            run.sort(_columns(match.group(1)), match.group(2) == "true")
        else:
            raise InfluxError(400, f"the double does not understand this Flux: {stage}")

    def _delete(self, request: RecordedRequest) -> None:
        self._check_bucket(request)
        try:
            document = json.loads(request.body)
            start = parse_rfc3339_ns(document["start"])
            stop = parse_rfc3339_ns(document["stop"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InfluxError(400, f"invalid delete request: {exc}") from exc
        conditions: list[tuple[str, str]] = []
        predicate = (document.get("predicate") or "").strip()
        if predicate:
            for part in re.split(r"\s+AND\s+", predicate, flags=re.I):
                match = re.fullmatch(r'\s*(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*', part)
                if match is None:
                    raise InfluxError(400, f"unsupported delete predicate: {predicate}")
                conditions.append((match.group(1), _flux_unquote(match.group(2))))

        def doomed(point: StoredPoint) -> bool:
            if not start <= point.time_ns <= stop:
                return False
            for column, value in conditions:
                actual = point.measurement if column == "_measurement" else point.tags.get(column)
                if actual != value:
                    return False
            return True

        with self._lock:
            self._state.points = {k: p for k, p in self._state.points.items() if not doomed(p)}


class _Handler(BaseHTTPRequestHandler):
    double: InfluxV2Double
    protocol_version = "HTTP/1.1"  # keep-alive, as urllib3 pools connections
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            params={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            status, content_type, payload = self.double.handle(request)
        except InfluxError as exc:
            status = exc.status
            content_type = "application/json; charset=utf-8"
            code = _ERROR_CODES.get(status, "internal error")
            payload = json.dumps({"code": code, "message": exc.message}).encode()
        self.send_response(status)
        self.send_header("X-Influxdb-Version", VERSION)
        self.send_header("X-Influxdb-Build", "OSS")
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_HEAD = _serve
