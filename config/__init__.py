"""Settings (TOML file + SOCMINT_* environment) and the shipped defaults."""
