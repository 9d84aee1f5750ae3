import httpx

from api.main import create_app
from wellcoach.platform import open_platform
from wellcoach.runtime.services import ServiceUrls


async def test_health_reports_every_dependency_as_healthy(client):
    response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert set(body["checks"]) == {"database", "pgvector", "redis", "llm", "disk", "health_store"}
    assert body["checks"]["health_store"]["store"] == "postgresql"
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["llm"]["provider"] == "offline"
    assert body["checks"]["pgvector"]["version"]


async def test_ready_and_metrics(client):
    assert (await client.get("/ready")).json()["ready"] is True
    await client.get("/health")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert (
        'wellcoach_http_requests_total{method="GET",route="/health",status="200"}' in metrics.text
    )


async def test_request_id_is_echoed_or_generated(client):
    echoed = await client.get("/v1/meta", headers={"X-Request-ID": "abc123"})
    assert echoed.headers["x-request-id"] == "abc123"
    generated = await client.get("/v1/meta")
    assert len(generated.headers["x-request-id"]) == 32
    assert generated.json()["api_version"] == "v1"


async def test_unknown_route_uses_the_error_format(client):
    response = await client.get("/v1/nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": None}
    }


async def test_wrong_method_uses_the_error_format(client):
    response = await client.post("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_openapi_lists_the_routes(client):
    spec = (await client.get("/openapi.json")).json()
    assert {"/health", "/ready", "/metrics", "/v1/meta"} <= set(spec["paths"])


async def test_health_is_degraded_and_names_the_failing_check(settings, services):
    # a Redis URL where nothing listens: the report must say which dependency failed
    urls = ServiceUrls(services.database_url, "redis://127.0.0.1:1/0", False, False)
    broken = await open_platform(settings, urls)
    try:
        app = create_app(settings, broken)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            health = (await http.get("/health")).json()
            ready = await http.get("/ready")
    finally:
        await broken.close()

    assert health["status"] == "degraded"
    assert health["checks"]["redis"]["ok"] is False
    assert health["checks"]["redis"]["error"]
    assert health["checks"]["database"]["ok"] is True
    assert ready.status_code == 503
