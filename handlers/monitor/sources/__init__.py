"""Public sources that yield normalised posts."""
