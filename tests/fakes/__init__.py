"""Fake platform servers for offline tests (HTTP on 127.0.0.1, scriptable, recording every call)."""
