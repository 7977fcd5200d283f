"""The source registry: every enabled source, built once from settings around the shared fetcher.

A source registers itself once, in `config/sources.py`: its settings section names the class that implements
it (`implementation`); the list of sources, /sources, /status and the settings are derived from there.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from bot.shared import Slot
from config.sources import SourcesSettings
from handlers.monitor.sources.base import Source

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

SOURCES: Slot[dict[str, Source]] = Slot("sources")  # the built sources by `Source.name`

# settings section → "module:Class", in the order /sources lists them
SOURCE_CLASSES: dict[str, str] = {section: SourcesSettings.section(section).implementation
                                  for section in SourcesSettings.model_fields}


def _load(path: str) -> type[Source] | None:
    module_name, _, class_name = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        log.warning("source not available", extra={"source": path, "error": str(exc)})
        return None


def available_sources(services: Services) -> dict[str, Source]:
    """Every enabled source by name (`Source.name`), built once and kept in `services.shared` (slot `SOURCES`).

    Sources that need a missing key are included (their `configured()` is False) so they can be
    listed as "needs a key"; disabled sections are left out.
    """
    cached = services.shared.get(SOURCES)
    if cached is not None:
        return cached
    sources: dict[str, Source] = {}
    for section, path in SOURCE_CLASSES.items():
        settings = getattr(services.settings.sources, section)
        if not settings.enabled:
            continue
        cls = _load(path)
        if cls is not None:
            source = cls(settings, services.fetcher)
            sources[source.name] = source
    return services.shared.put(SOURCES, sources)
