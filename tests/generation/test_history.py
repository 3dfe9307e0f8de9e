"""Generations as history, credits as a ledger, the model list, and the admin CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.generation.conftest import (
    add_reference,
    balance,
    generate,
    generation_config,
    grant,
    ledger,
)
from tests.support.app import Api
from tests.support.provider_server import ProviderServer

ROOT = Path(__file__).resolve().parents[2]


async def test_references_of_a_generation_follow_the_pool(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    a = await add_reference(gen_api, owner, 71)
    b = await add_reference(gen_api, owner, 72)
    await grant(gen_api, owner, 10)
    result = await generate(gen_api, owner, [a["id"], b["id"]])
    await gen_api.gql(
        "mutation($id: ID!) { deleteMeImage(id: $id) { __typename } }", {"id": a["id"]}, user=owner
    )
    record = await gen_api.gql(
        "query($id: ID!) { generation(id: $id) { referenceIds references { id usage { aiReference } } } }",
        {"id": result["id"]},
        user=owner,
    )
    assert record["generation"]["referenceIds"] == [a["id"], b["id"]]
    assert record["generation"]["references"] == [{"id": b["id"], "usage": {"aiReference": True}}]


async def test_starting_balance_is_given_once(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    ref = await add_reference(gen_api, owner, 73)
    with generation_config(gen_api, initial_credits=25):
        assert await balance(gen_api, owner) == 25
        result = await generate(gen_api, owner, [ref["id"]])
        assert result["cost"] == 10
        assert await balance(gen_api, owner) == 15
        assert await grant(gen_api, owner, 5) == 20
        reasons = sorted(e["reason"] for e in await ledger(gen_api, owner))
        assert reasons == ["generation", "grant", "welcome"]
    # Raising the setting later does not top up an owner who already started.
    with generation_config(gen_api, initial_credits=1000):
        assert await balance(gen_api, owner) == 20


async def test_generation_models_lists_prices(gen_api: Api, owner: str) -> None:
    data = await gen_api.gql(
        "{ generationModels { id provider configured prices { quality credits } } }", user=owner
    )
    models = {m["id"]: m for m in data["generationModels"]}
    assert models["openai/gpt-image-2"]["prices"] == [
        {"quality": "LOW", "credits": 3},
        {"quality": "MEDIUM", "credits": 10},
        {"quality": "HIGH", "credits": 25},
    ]
    assert models["openai/gpt-image-1"]["provider"] == "openai"
    assert {p["credits"] for p in models["google/gemini-2.5-flash-image"]["prices"]} == {5}
    assert {p["credits"] for p in models["google/gemini-3.1-flash-image-preview"]["prices"]} == {6}
    assert {p["credits"] for p in models["google/gemini-3-pro-image-preview"]["prices"]} == {18}
    assert all(m["configured"] for m in models.values())


def cli(*args: str, api: Api) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MEIMAGES_DATA_DIR": str(api.settings.data_dir),
        "MEIMAGES_DATABASE_URL": api.settings.database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "credits", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_credits_cli_grants_and_shows(gen_api: Api, owner: str) -> None:
    granted = cli("grant", "--user", owner, "40", "--note", "welcome gift", api=gen_api)
    assert granted.returncode == 0, granted.stderr
    assert f"granted 40 credits to {owner!r}; available now: 40" in granted.stdout
    shown = cli("show", "--user", owner, api=gen_api)
    assert shown.stdout.strip() == f"{owner!r} has 40 credits available"
    assert await balance(gen_api, owner) == 40
    refused = cli("grant", "--user", owner, "-5", api=gen_api)
    assert refused.returncode == 2 and "grant between 1 and" in refused.stderr
    assert [e["note"] for e in await ledger(gen_api, owner) if e["reason"] == "grant"] == [
        "welcome gift"
    ]
