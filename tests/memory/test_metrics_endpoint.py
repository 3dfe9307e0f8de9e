"""`/metrics` of a running app reports the cache budget, each cache's bytes and entries,
and the evictions the budget forced."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from testbed.images import jpeg
from tests.observability.conftest import parse
from tests.support.app import running_api

TOKEN = "metrics-token-for-the-cache-test"
BUDGET = 96 * 1024


async def test_metrics_report_the_caches_under_a_small_budget(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, metrics_token=TOKEN, cache_bytes=BUDGET)  # type: ignore[call-arg]
    async with running_api(settings, "sqlite") as api:
        owner = "cache-metrics-owner"
        for n in range(3):
            await api.upload(jpeg(60 + n), user=owner, input={"label": f"label {n}"})
        # Distinct documents until the budget has had to evict (each leaves ~30 KiB).
        for n in range(12):
            query = f"query Look{n} {{ meImages {{ id label publicUrl thumbnailUrl }} }}"
            response = await api.client.post(
                "/graphql", json={"query": query}, headers=api.headers(owner)
            )
            assert response.status_code == 200 and "errors" not in response.json()
        response = await api.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        samples = parse(response.text)
        budget = api.stores.caches.budget
        usage = {u.name: u for u in budget.usage()}

    assert samples.get("meimages_cache_budget_bytes") == BUDGET
    reported = samples.label_values("meimages_cache_bytes", "cache")
    assert {
        "query_answers",
        "query_requests",
        "parsed_documents",
        "schema_documents",
        "document_answers",
        "document_verdicts",
        "admissions",
        "plans",
        "executors",
        "datetime_texts",
        "pool_snapshots",
        "owner_versions",
        "signed_urls",
        "verified_tokens",
    } <= reported
    for name in reported:
        assert samples.get("meimages_cache_bytes", cache=name) == usage[name].nbytes
        assert samples.get("meimages_cache_entries", cache=name) == usage[name].entries
        assert samples.get("meimages_cache_evictions_total", cache=name) == usage[name].evictions
    assert samples.get("meimages_cache_bytes", cache="query_answers", sizing="encoded") > 0
    assert samples.get("meimages_cache_bytes", cache="plans", sizing="estimated") > 0
    assert 0 < samples.get("meimages_cache_bytes") <= BUDGET
    assert samples.get("meimages_cache_evictions_total") > 0
