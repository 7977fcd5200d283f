"""Renderers: turn one platform-neutral Reply into each platform's format and limits."""
