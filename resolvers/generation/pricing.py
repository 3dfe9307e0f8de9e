"""The model catalogue and what one output image costs, in credits.

One table, with the source app's prices (its `creditsFor`): OpenAI low 3, medium 10,
high 25 per image; Google 5 (Gemini 2.5 Flash Image), 6 (Gemini 3.1 Flash Image) and 18
(Gemini 3 Pro Image) per image. Gemini image models take no quality parameter, so each
has one flat price whatever quality is asked for. Cost never depends on the number of
references.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from resolvers.config.generation import GenerationConfig
from resolvers.config.workflows import Workflow


class Quality(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Size(enum.StrEnum):
    SQUARE = "1024x1024"
    LANDSCAPE = "1536x1024"
    PORTRAIT = "1024x1536"
    AUTO = "auto"


class Provider(enum.StrEnum):
    OPENAI = "openai"
    GEMINI = "gemini"
    COMFYUI = "comfyui"


@dataclass(frozen=True)
class Model:
    id: str
    provider: Provider
    provider_model: str
    prices: Mapping[Quality, int]
    description: str
    # Tried once when the provider refuses this model to an unverified organisation.
    fallback: str | None = None
    # A workflow takes exactly this many references (None: 1 to 8).
    references: int | None = None
    # The most images one call can make (a workflow without {{batch_size}} makes one).
    max_n: int = 4

    def price(self, quality: Quality) -> int:
        return self.prices[quality]


def _flat(credits: int) -> Mapping[Quality, int]:
    return dict.fromkeys(Quality, credits)


OPENAI_PRICES: Mapping[Quality, int] = {Quality.LOW: 3, Quality.MEDIUM: 10, Quality.HIGH: 25}

MODELS: Mapping[str, Model] = {
    m.id: m
    for m in (
        Model(
            "openai/gpt-image-2",
            Provider.OPENAI,
            "gpt-image-2",
            OPENAI_PRICES,
            "OpenAI GPT Image 2 (falls back to gpt-image-1 for unverified organisations).",
            fallback="openai/gpt-image-1",
        ),
        Model(
            "openai/gpt-image-1",
            Provider.OPENAI,
            "gpt-image-1",
            OPENAI_PRICES,
            "OpenAI GPT Image 1.",
        ),
        Model(
            "google/gemini-2.5-flash-image",
            Provider.GEMINI,
            "gemini-2.5-flash-image",
            _flat(5),
            "Google Gemini 2.5 Flash Image; flat price, quality is not sent.",
        ),
        Model(
            "google/gemini-3.1-flash-image-preview",
            Provider.GEMINI,
            "gemini-3.1-flash-image-preview",
            _flat(6),
            "Google Gemini 3.1 Flash Image (preview); flat price, quality is not sent.",
        ),
        Model(
            "google/gemini-3-pro-image-preview",
            Provider.GEMINI,
            "gemini-3-pro-image-preview",
            _flat(18),
            "Google Gemini 3 Pro Image (preview); flat price, quality is not sent.",
        ),
    )
}

DEFAULT_MODEL = "openai/gpt-image-2"


def local_model(workflow: Workflow) -> Model:
    """A ComfyUI workflow as a model: the operator's flat price, whatever the quality."""
    return Model(
        workflow.model_id,
        Provider.COMFYUI,
        workflow.name,
        _flat(workflow.price),
        workflow.description,
        references=workflow.references,
        max_n=4 if workflow.takes_batch else 1,
    )


def catalogue(config: GenerationConfig) -> Mapping[str, Model]:
    """Every model this server knows: the built-in ones and the operator's workflows."""
    if not config.workflows:
        return MODELS
    return {**MODELS, **{w.model_id: local_model(w) for w in config.workflows}}


def hold_for(model: Model, quality: Quality, n: int) -> int:
    """Credits to hold before the call: enough for n images on the model or its fallback."""
    candidates = [model] + ([MODELS[model.fallback]] if model.fallback else [])
    return n * max(m.price(quality) for m in candidates)


def cost_of(
    model_id: str, quality: Quality, images: int, models: Mapping[str, Model] = MODELS
) -> int:
    return images * models[model_id].price(quality)
