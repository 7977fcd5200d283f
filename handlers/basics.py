"""The basics: /start, /help, /whoami and /status."""

from __future__ import annotations

import platform
from datetime import timedelta

from bot import __version__
from bot.command import Arg, CommandError, CommandIndex, CommandSet, Context
from bot.reply import Reply, bold, code
from bot.services import Services
from handlers.monitor.sources.registry import available_sources
from storage import identity
from storage.models import Role

commands = CommandSet()


def _uptime(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours:02d}:{minutes:02d}:{seconds:02d}"


@commands.command("start", "Say hello and show how to begin", example="/start", needs_allowed_chat=False)
async def start(ctx: Context) -> Reply:
    if not ctx.chat_allowed:
        return Reply.text(
            "Hello. This chat is not allowed to use socmint-bot yet. Ask an admin to run /allow here. ",
            "Chat ", code(ctx.chat.key), ", you ", code(ctx.user.key), ".",
        )
    reply = Reply.text(bold("socmint-bot"), " — social media intelligence in your team chat.")
    reply.para("Try ", code("/lookup example.com"), ", ", code('/watch add "lock bit" OR lockbit'),
               " or ", code("/help"), ".")
    return reply


@commands.command("help", "List commands, or explain one", example="/help watch",
                  args=[Arg("command", "a command name", required=False)])
async def help_(ctx: Context, command: str | None) -> Reply:
    registry = ctx.commands
    if command:
        return _help_one(registry, command.lstrip("/").lower(), ctx.role)
    reply = Reply.text(bold("Commands"), f" (your role: {ctx.role.label})")
    for group, cmds in registry.groups().items():
        visible = [c for c in cmds if not c.hidden and ctx.role >= c.role]
        if len(visible) == 1 and visible[0].name == group:
            reply.para(code(f"/{group}"), " — ", visible[0].summary)
        elif visible:
            reply.para(code(f"/{group}"), " — ", "; ".join(c.name.split(" ", 1)[-1] for c in visible))
    keyless = [name for name, source in available_sources(ctx.services).items() if not source.configured()]
    if keyless:
        reply.para("Needs a key (not polled until configured): ", ", ".join(keyless), ". See ", code("/sources"), ".")
    reply.para("Details and examples: ", code("/help <command>"), ".")
    return reply


def _help_one(registry: CommandIndex, name: str, role: Role) -> Reply:
    found = registry.get(name)
    group = registry.groups().get(name) or ([found] if found else [])
    if not group:
        hint = registry.suggest(name)
        raise CommandError(f"No command /{name}." + (f" Did you mean /{hint[0]}?" if hint else ""))
    reply = Reply()
    for cmd in group:
        reply.para(code(cmd.usage), " — ", cmd.summary)
        items: list[tuple[str, object]] = [("example", code(cmd.example)), ("needs role", cmd.role.label)]
        items += [(f"<{a.name}>", a.help + (f" ({', '.join(a.choices)})" if a.choices else "")) for a in cmd.args]
        items += [(f"--{o.name}", o.help) for o in cmd.options]
        if cmd.aliases:
            items.append(("aliases", ", ".join(f"/{a}" for a in cmd.aliases)))
        reply.kv(items)  # type: ignore[arg-type]
    if role < min(c.role for c in group):
        reply.para("(You cannot run this with your current role.)")
    return reply


@commands.command("whoami", "Show who you are, your role and this chat", example="/whoami",
                  needs_allowed_chat=False)
async def whoami(ctx: Context) -> Reply:
    allowed = ctx.chat_allowed
    reply = Reply()
    reply.kv([
        ("you", code(ctx.user.key)),
        ("name", ctx.user.name or "—"),
        ("username", f"@{ctx.user.username}" if ctx.user.username else "—"),
        ("role", ctx.role.label if allowed else "none here"),
        ("chat", code(ctx.chat.key)),
        ("chat allowed", "yes" if allowed else "no — ask an admin to run /allow here"),
    ], title="Who am I")
    return reply


def _role(services: Services) -> str:
    """Whether this process leads (runs schedules and delivery) or follows, and since when."""
    if not services.background:
        return "commands only (console)"
    leadership = services.leadership
    if leadership.leading and leadership.since is not None:
        return f"leader since {leadership.since:%Y-%m-%d %H:%M} UTC"
    return "follower (another process runs schedules and delivery)"


@commands.command("status", "Uptime, surfaces, sources and this chat's recent errors (admins: everything)",
                  example="/status")
async def status(ctx: Context) -> Reply:
    """Admins see the whole service; others its health and their own chat's errors, no counts across chats."""
    services = ctx.services
    admin = ctx.role >= Role.ADMIN
    surfaces = ", ".join(
        f"{name} ({'up' if s.connected else 'down'})" for name, s in services.surfaces.items()
    ) or "none"
    items: list[tuple[str, object]] = [
        ("version", f"{__version__} (Python {platform.python_version()})"),
        ("uptime", _uptime(services.now() - services.started_at)),
        ("surfaces", surfaces),
    ]
    if admin:
        size = services.db.size_bytes
        jobs = services.scheduler.get_jobs() if services.scheduler.running else []
        allowed = await services.db.run(lambda s: len(identity.allowed_chats(s)))
        refusals = services.refusals.silenced_total
        items += [
            ("database", f"{services.db.display_url.split('://')[0]}" + (f", {size / 1e6:.1f} MB" if size else "")),
            ("allowed chats", str(allowed)),
            ("scheduled jobs", str(len(jobs))),
            ("this process", _role(services)),
            ("refusals silenced", f"{refusals} (strangers over the refusal limit)"),
        ]
    reply = Reply().kv(items, title="Status")  # type: ignore[arg-type]
    for provider in services.status_providers if admin else services.public_status:
        section = await provider(services)
        if section:
            reply.kv(section[1], title=section[0])  # type: ignore[arg-type]
    errors = [e for e in services.errors if admin or e.chat == ctx.chat.key][-5:]
    if errors:
        reply.table(["when (UTC)", "where", "error"],
                    [(e.at.strftime("%m-%d %H:%M:%S"), e.where, e.message) for e in errors],
                    title="Recent errors" if admin else "Recent errors in this chat")
    else:
        reply.para("No recent errors." if admin else "No recent errors in this chat.")
    if not admin:
        reply.para("Counts across chats, queues and other chats' errors are shown to admins.")
    return reply
