"""Watchlists and monitoring: sources, the matcher, the pipeline, the alert outbox and digests."""
