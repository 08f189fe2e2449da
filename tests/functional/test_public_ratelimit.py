"""The public pages and the API are rate-limited: an HTML page for browsers, problem+json for /api/."""

from __future__ import annotations

import os
import secrets

import pytest
from flask import Flask

from app import create_app

LIMIT = "3 per minute"


@pytest.fixture
def limited_app(app_config: dict[str, object]) -> Flask:
    # A fresh app per test: the limiter's memory storage lives in the app, so counts start at zero.
    return create_app(app_config | {"RATELIMIT_ENABLED": True, "RATELIMIT_PUBLIC": LIMIT})


def test_the_fourth_page_request_in_a_minute_gets_an_html_429(limited_app: Flask) -> None:
    client = limited_app.test_client()
    for _ in range(3):
        assert client.get("/bodies", headers={"Accept": "text/html"}).status_code == 200
    response = client.get("/bodies", headers={"Accept": "text/html"})
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "429 · 请求过于频繁" in html and "请稍候一分钟再试" in html
    assert int(response.headers["Retry-After"]) > 0


def test_the_fourth_api_request_in_a_minute_gets_problem_json(limited_app: Flask) -> None:
    client = limited_app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/bodies").status_code == 200
    response = client.get("/api/v1/bodies")
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 429 and problem["title"] == "Too many requests"


def test_without_the_limit_the_same_requests_pass(app_config: dict[str, object]) -> None:
    # The control: the default test config turns the limiter off, so the 429 above is the limit's doing.
    client = create_app(app_config).test_client()
    assert [client.get("/bodies").status_code for _ in range(5)] == [200] * 5


def test_workers_sharing_redis_share_the_limit(app_config: dict[str, object]) -> None:
    """Deployed with several gunicorn workers, the limit must count across them: with the Redis
    storage a client cannot get LIMIT requests from each worker (memory:// counts per process)."""
    redis = pytest.importorskip("redis")
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {url}: {exc}")
    prefix = f"test-{secrets.token_hex(8)}"  # this run's counters only
    config = app_config | {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_PUBLIC": LIMIT,
        "RATELIMIT_STORAGE_URI": url,
        "RATELIMIT_KEY_PREFIX": prefix,
    }
    first, second = create_app(config).test_client(), create_app(config).test_client()
    try:
        assert [first.get("/api/v1/bodies").status_code for _ in range(2)] == [200, 200]
        assert second.get("/api/v1/bodies").status_code == 200
        assert second.get("/api/v1/bodies").status_code == 429  # the 4th, though only the 2nd here
        assert first.get("/api/v1/bodies").status_code == 429
    finally:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
