"""pydantic-settings' internals, touched here and nowhere else.

Its environment source reads `os.environ` in `EnvSettingsSource._load_env_vars` (its
dotenv source overrides the same method); `EnvironSource` reads any mapping instead, with
the library's own parsing (`sources.utils.parse_env_vars`). `WRITTEN_FOR` names the
versions read; `tests/test_library_fences.py` fails when the installed one is another.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic_settings import BaseSettings, EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

# Distribution name → the version prefix this module was written against.
WRITTEN_FOR = {"pydantic-settings": "2.16."}


class EnvironSource(EnvSettingsSource):
    """The environment source, over any mapping (tests pass their own)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )
