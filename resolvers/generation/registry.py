"""Which provider answers a model: the one place that knows every provider module."""

from __future__ import annotations

from resolvers.config.generation import GenerationConfig
from resolvers.generation.comfyui import ComfyUIProvider
from resolvers.generation.errors import ProviderNotConfigured
from resolvers.generation.gemini import GeminiProvider
from resolvers.generation.openai import OpenAIProvider
from resolvers.generation.pricing import Model, Provider
from resolvers.generation.providers import ImageProvider


def provider_for(config: GenerationConfig, model: Model) -> ImageProvider:
    if model.provider is Provider.COMFYUI:
        if config.comfyui is None:
            raise ProviderNotConfigured("comfyui")
        return ComfyUIProvider(config.comfyui, config)
    if model.provider is Provider.OPENAI:
        if config.openai is None:
            raise ProviderNotConfigured("openai")
        return OpenAIProvider(config.openai, config)
    if config.gemini is None:
        raise ProviderNotConfigured("gemini")
    return GeminiProvider(config.gemini, config)
