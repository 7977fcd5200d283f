"""The `socmint` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__

if TYPE_CHECKING:
    from config.settings import Settings


def _settings() -> Settings:
    from config.settings import ConfigError, load_settings  # here: subcommands that need no settings start faster

    try:
        return load_settings()
    except ConfigError as exc:
        print(f"socmint: configuration error\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(settings: Settings) -> None:
    from bot.logsetup import setup_logging

    setup_logging(settings.log_level, settings.log_format, settings.secrets())


async def _serve(settings: Settings, *, console_only: bool) -> int:
    from bot.app import App
    from bot.surfaces.console import ConsoleSurface
    from storage.db import MissingDriver
    from storage.locks import AlreadyRunning

    try:
        app = App(settings)
    except MissingDriver as exc:
        print(f"socmint: {exc}", file=sys.stderr)
        return 1
    app.services.background = not console_only
    surfaces = [] if console_only else app.chat_surfaces()
    console = None
    if not surfaces:
        if not console_only:
            print("socmint: no chat token configured (SOCMINT_TELEGRAM__TOKEN, SOCMINT_DISCORD__TOKEN); "
                  "serving the console. Type /help, Ctrl-D to quit.", file=sys.stderr)
        console = ConsoleSurface(app.services, app.router)
        surfaces = [console]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await app.start(surfaces)
    except AlreadyRunning as exc:
        print(f"socmint: {exc}", file=sys.stderr)
        await app.stop()
        return 1
    waiters = [asyncio.create_task(stop.wait())]
    if console:
        waiters.append(asyncio.create_task(console.done.wait()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    await app.stop()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    _logging(settings)
    return asyncio.run(_serve(settings, console_only=False))


def cmd_console(args: argparse.Namespace) -> int:
    settings = _settings()
    from bot.logsetup import setup_logging

    # stdout carries the replies; keep stderr for problems only unless DEBUG is asked for.
    level = settings.log_level if settings.log_level == "DEBUG" else "WARNING"
    setup_logging(level, settings.log_format, settings.secrets())
    return asyncio.run(_serve(settings, console_only=True))


def cmd_health(args: argparse.Namespace) -> int:
    """Ask the running bot's /healthz (ops.port must be set): exit 0 when healthy (a container's health check)."""
    import urllib.error
    import urllib.request

    settings = _settings()
    if not settings.ops.port:
        print("socmint: ops.port is not set (SOCMINT_OPS__PORT): the bot serves no /healthz", file=sys.stderr)
        return 2
    host = "127.0.0.1" if settings.ops.listen in ("0.0.0.0", "::", "") else settings.ops.listen
    url = f"http://{host}:{settings.ops.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as answer:
            print(answer.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode() or f"HTTP {exc.code}")
        return 1
    except (urllib.error.URLError, TimeoutError) as exc:
        print(f"socmint: no answer from {url}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1


def cmd_init(args: argparse.Namespace) -> int:
    from config.settings import config_path

    path = Path(args.path) if args.path else config_path()
    if path.exists() and not args.force:
        print(f"socmint: {path} exists; use --force to overwrite", file=sys.stderr)
        return 1
    from storage.private import write_private

    write_private(path, files("config").joinpath("default.toml").read_text(encoding="utf-8"))  # it may hold keys
    print(f"wrote {path}; edit it, then `socmint config check`")
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    from config.settings import config_path

    settings = _settings()
    print(f"# effective settings (file: {config_path()}{'' if config_path().exists() else ', not present'})")
    data = settings.model_dump(mode="json")
    _print_toml(data, settings.masker().mask)
    print("# configuration OK", file=sys.stderr)
    return 0


def _print_toml(data: dict, mask: Callable[[str], str], prefix: str = "") -> None:  # type: ignore[type-arg]
    """The settings as TOML, every value through `mask` (the database URL's password, tokens in URLs)."""
    import json

    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) or not v}
    tables = {k: v for k, v in data.items() if isinstance(v, dict) and v}
    if prefix and scalars:
        print(f"\n[{prefix}]")
    for key, value in scalars.items():
        rendered = mask(json.dumps(value, ensure_ascii=False)) if value is not None else '""  # unset'
        print(f"{_toml_key(key)} = {rendered}")
    for key, value in tables.items():
        _print_toml(value, mask, f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key))


def _toml_key(key: str) -> str:
    """A bare TOML key when it can be one, else a quoted one (instance URLs as keys)."""
    import json

    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def cmd_plugin(target: str) -> Callable[[argparse.Namespace], int]:
    """A subcommand implemented in a handler module as `main(argv) -> int`."""

    def run(args: argparse.Namespace) -> int:
        module_name, _, func = target.partition(":")
        import importlib

        module = importlib.import_module(module_name)
        return int(getattr(module, func)(args.rest) or 0)

    return run


PLUGINS: dict[str, tuple[str, str]] = {
    "user": ("handlers.lookup.sweep.cli:user_cli", "sweep a username across the site list (--format json|table)"),
    "sites": ("handlers.lookup.sweep.cli:sites_cli", "site lists: update (download WhatsMyName), check"),
    "import": ("handlers.imports.cli:main", "import posts from a Telegram export, JSONL or CSV file"),
    "case": ("handlers.cases.cli:main", "list cases; export one: case export ID --format html|md|json|csv|stix|gexf"),
    "export-data": ("handlers.governance_cli:export_main", "export every table as JSON Lines (--out DIR)"),
    "backup": ("handlers.governance_cli:backup_main", "consistent SQLite backup, safe while the bot runs [FILE]"),
    "purge": ("handlers.governance_cli:purge_main", "delete data older than the retention settings, now"),
    "playbooks": ("handlers.investigate.cli:main", "validate investigation playbooks (check [DIR])"),
    "match": ("handlers.monitor.retrohunt:main", "retro-hunt: run watch queries over a JSONL file of posts, offline"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socmint", description="socmint-bot: SOCMINT in your team chat")
    parser.add_argument("--version", action="version", version=f"socmint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="start every configured chat surface and the scheduler").set_defaults(fn=cmd_run)
    sub.add_parser("console", help="serve commands on stdin/stdout").set_defaults(fn=cmd_console)
    p = sub.add_parser("health", help="ask the running bot's /healthz (ops.port): exit 0 when healthy")
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(fn=cmd_health)
    p = sub.add_parser("init", help="write a commented config file")
    p.add_argument("path", nargs="?")
    p.add_argument("--force", action="store_true")
    p.set_defaults(fn=cmd_init)
    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    csub.add_parser("check", help="validate and print the effective settings, secrets masked").set_defaults(
        fn=cmd_config_check)
    for name, (target, help_text) in PLUGINS.items():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(fn=cmd_plugin(target))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `socmint` command; everything it creates is private to its user (umask 077)."""
    from storage.private import private_umask

    argv = list(sys.argv[1:] if argv is None else argv)
    with private_umask():
        if argv and argv[0] in PLUGINS:  # the plugin parses its own arguments, --help included
            return cmd_plugin(PLUGINS[argv[0]][0])(argparse.Namespace(rest=argv[1:]))
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "fn", None):
            parser.print_help()
            return 0
        return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
