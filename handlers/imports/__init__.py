"""Imports: posts from files (Telegram Desktop exports, JSONL, CSV) into the monitoring pipeline."""
