"""Administration: /allow, /deny, /role and /audit."""

from __future__ import annotations

from sqlmodel import Session

from bot.command import Arg, ArgKind, ChatRef, CommandError, CommandSet, Context, UsageError
from bot.reply import Reply, code
from config.settings import PLATFORMS
from storage import audit, identity
from storage.models import Role, User

commands = CommandSet()

# Telegram ids that are not one person: anonymous group admins (GroupAnonymousBot), channels posting in
# groups (Channel_Bot) and Telegram's own service notifications. No role may be given to them.
SHARED_IDS = frozenset({("telegram", 1087968824), ("telegram", 136817688), ("telegram", 777000)})


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
                  args=[Arg("user", "platform:user_id, or the @username of someone who wrote here"),
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
            target = _by_username(session, ctx.platform, user)
            platform, uid = target.platform, target.platform_id
        if uid < 0 or (platform, uid) in SHARED_IDS:
            raise CommandError(f"{platform}:{uid} is not one person (a chat, a channel or anonymous group admins "
                               "share it), so it cannot hold a role. Ask them to write as themselves and send /whoami.")
        old = Role(target.role) if target else Role.VIEWER
        if old > ctx.role or (old >= Role.ADMIN and ctx.role < Role.OWNER):
            raise CommandError(f"You ({ctx.role.label}) cannot change the role of a {old.label}; "
                               "only an owner changes an admin's role.")
        identity.set_role(session, platform, uid, new)
        return _who(target, f"{platform}:{uid}"), old

    who, old = await ctx.services.db.run(change)
    return Reply.text("Role of ", who, f" changed from {old.label} to {new.label}.")


def _by_username(session: Session, platform: str, name: str) -> User:
    """The one user of `platform` last seen with handle `name`; CommandError when none or several."""
    found = identity.find_users_by_username(session, platform, name)
    shown = "@" + identity.normalise_username(name)
    if not found:
        raise CommandError(f"Nobody with the username {shown} has written here yet (display names do not count). "
                           "Use platform:id instead; they can send /whoami to learn theirs.")
    if len(found) > 1:
        ids = ", ".join(f"{u.platform}:{u.platform_id}" for u in found)
        raise CommandError(f"The username {shown} is ambiguous ({ids}); use platform:id instead.")
    return found[0]


def _who(user: User | None, key: str) -> str:
    """`Alice Smith (@alice, telegram:123)`: whom a role went to, with the numeric id that is authoritative."""
    if user is None:
        return key
    handle = f"@{user.username}, " if user.username else ""
    return f"{user.name} ({handle}{key})" if user.name else f"{handle}{key}"


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
