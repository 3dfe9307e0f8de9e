"""A generation's prompt is encrypted at rest: the database's raw files never hold it."""

from __future__ import annotations

from tests.generation.conftest import add_reference, generate, grant
from tests.support.app import Api
from tests.support.at_rest import files_holding, raw_database_files
from tests.support.provider_server import ProviderServer

# Every table a generation writes to.
GENERATION_TABLES = ["generation", "reference_use", "credit_entry", "me_image_event"]


async def test_prompt_canary_absent_from_raw_database_files(
    gen_api: Api, owner: str, provider: ProviderServer
) -> None:
    canary = "CANARY-prompt-7e7e7e on the moon"
    ref = await add_reference(gen_api, owner, 60)
    await grant(gen_api, owner, 10)
    result = await generate(gen_api, owner, [ref["id"]], prompt=canary)
    assert result["__typename"] == "Generation", result
    # Stored and readable through the API: the canary is there to be found if it leaked.
    assert result["prompt"] == canary
    sent = provider.requests[-1]
    assert canary in str(sent), "the provider was asked with another prompt"
    files = await raw_database_files(gen_api, GENERATION_TABLES)
    assert files_holding(files, b"CANARY-prompt-7e7e7e") == []
