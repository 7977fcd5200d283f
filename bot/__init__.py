"""The process: CLI, wiring, the command router, chat surfaces and renderers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("socmint-bot")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"
