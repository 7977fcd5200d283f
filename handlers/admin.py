"""Administration: /allow, /deny, /role and /audit."""

from __future__ import annotations

from sqlmodel import Session

from bot.command import Arg, ArgKind, ChatRef, CommandError, CommandSet, Context, UsageError
from bot.reply import Reply, code
from config.settings import PLATFORMS
from storage import audit, identity
from storage.models import Role

commands = CommandSet()


def _parse_key(text: str, what: str) -> tuple[str, int]:
    platform, sep, uid = text.partition(":")
    if not sep or platform not in PLATFORMS or not uid.lstrip("-").isdigit():
        raise UsageError(f"{what} must look like telegram:123456 or discord:987654, not {text!r}")
    return platform, int(uid)


def _target_chat(ctx: Context, chat: str | None) -> ChatRef:
    if not chat:
        return ctx.chat
    platform, cid = _parse_key(chat, "the chat")
    return ChatRef(platform, cid)


@commands.command("allow", "Allow this chat (or another, by id) to use the bot", example="/allow",
                  args=[Arg("chat", "platform:chat_id, default this chat", required=False)],
                  role=Role.ADMIN, mutates=True, needs_allowed_chat=False)
async def allow(ctx: Context, chat: str | None) -> Reply:
    target = _target_chat(ctx, chat)
    await ctx.services.db.run(lambda s: identity.set_allowed(s, target.platform, target.id, True, ctx.user.key))
    return Reply.text("✅ Chat ", code(target.key), " is allowed. Its members start as viewers; use ",
                      code("/role <user> analyst"), " to let them create watches.")


@commands.command("deny", "Stop this chat (or another, by id) from using the bot", example="/deny telegram:-1001",
                  args=[Arg("chat", "platform:chat_id, default this chat", required=False)],
                  role=Role.ADMIN, mutates=True)
async def deny(ctx: Context, chat: str | None) -> Reply:
    target = _target_chat(ctx, chat)
    await ctx.services.db.run(lambda s: identity.set_allowed(s, target.platform, target.id, False, ctx.user.key))
    return Reply.text("🚫 Chat ", code(target.key), " is no longer allowed.")


@commands.command("role", "Set a user's role (owner, admin, analyst, viewer)", example="/role telegram:123 analyst",
                  args=[Arg("user", "platform:user_id, or a known @name on this platform"),
                        Arg("role", "the new role", kind=ArgKind.CHOICE,
                            choices=("owner", "admin", "analyst", "viewer"))],
                  role=Role.ADMIN, mutates=True)
async def role(ctx: Context, user: str, role: str) -> Reply:
    new = Role.parse(role)
    if new > ctx.role or (new == Role.OWNER and ctx.role < Role.OWNER):
        raise CommandError(f"You ({ctx.role.label}) cannot grant {new.label}.")

    def change(session: Session) -> tuple[str, Role]:
        if ":" in user:
            platform, uid = _parse_key(user, "the user")
            target = identity.get_user(session, platform, uid)
        else:
            target = identity.find_user_by_name(session, ctx.platform, user)
            if target is None:
                raise CommandError(f"No user named {user!r} seen here yet; use platform:id (they can send /whoami).")
            platform, uid = target.platform, target.platform_id
        old = Role(target.role) if target else Role.VIEWER
        if old > ctx.role or (old == Role.OWNER and ctx.role < Role.OWNER):
            raise CommandError(f"You ({ctx.role.label}) cannot change the role of a {old.label}.")
        identity.set_role(session, platform, uid, new)
        return f"{platform}:{uid}", old

    key, old = await ctx.services.db.run(change)
    return Reply.text("Role of ", code(key), f" changed from {old.label} to {new.label}.")


@commands.command("audit", "Show the latest audit entries", example="/audit 20 telegram:123",
                  args=[Arg("n", "how many (1–200)", kind=ArgKind.INT, required=False, default=20),
                        Arg("user", "only this platform:user_id", required=False)],
                  role=Role.ADMIN)
async def audit_(ctx: Context, n: int, user: str | None) -> Reply:
    if not 1 <= n <= 200:
        raise UsageError("n must be between 1 and 200")
    if user:
        _parse_key(user, "the user")
    entries = await ctx.services.db.run(lambda s: audit.recent(s, n, user))
    if not entries:
        return Reply.text("The audit log has no entries" + (f" for {user}." if user else "."))
    rows = [(e.at.strftime("%Y-%m-%d %H:%M:%S"), e.user, e.chat, f"/{e.command} {e.args}".strip()[:60],
             e.outcome) for e in entries]
    return Reply().table(["when (UTC)", "user", "chat", "command", "outcome"], rows, title=f"Audit, last {n}")
