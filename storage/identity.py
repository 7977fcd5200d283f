"""Queries on users and chats: who someone is, what role they have, whether a chat is allowed."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from storage.models import Chat, Role, User
from storage.types import utcnow


def get_user(session: Session, platform: str, platform_id: int) -> User | None:
    return session.exec(select(User).where(User.platform == platform, User.platform_id == platform_id)).first()


def normalise_username(username: str) -> str:
    """A platform handle as stored and compared: no leading @, lower case (handles ignore case)."""
    return username.strip().lstrip("@").lower()[:64]


def touch_user(session: Session, platform: str, platform_id: int, name: str | None,
               username: str | None = None) -> User:
    """The user, created as a viewer on first sight; display name and platform handle are refreshed.

    A handle belongs to one account at a time: whoever showed it before loses it here.
    """
    user = get_user(session, platform, platform_id)
    if user is None:
        user = _insert_once(session, User(platform=platform, platform_id=platform_id, name=name,
                                          role=int(Role.VIEWER)), lambda: get_user(session, platform, platform_id))
    elif name and user.name != name:
        user.name = name
        user.updated_at = utcnow()
        session.add(user)
    handle = normalise_username(username) if username else None
    if handle and user.username != handle:
        for previous in find_users_by_username(session, platform, handle):
            previous.username = None
            session.add(previous)
        user.username = handle
        user.updated_at = utcnow()
        session.add(user)
    return user


def _insert_once(session: Session, row: SQLModel, reload):  # type: ignore[no-untyped-def]
    """Insert `row`; if a concurrent request inserted the same key first, return that one."""
    try:
        with session.begin_nested():
            session.add(row)
        return row
    except IntegrityError:
        return reload()


def find_users_by_username(session: Session, platform: str, username: str) -> list[User]:
    """Users of `platform` last seen with this handle (never matched against display names)."""
    handle = normalise_username(username)
    return list(session.exec(select(User).where(User.platform == platform, User.username == handle))) \
        if handle else []


def set_role(session: Session, platform: str, platform_id: int, role: Role) -> User:
    user = touch_user(session, platform, platform_id, None)
    user.role = int(role)
    user.updated_at = utcnow()
    session.add(user)
    return user


def get_chat(session: Session, platform: str, platform_id: int) -> Chat | None:
    return session.exec(select(Chat).where(Chat.platform == platform, Chat.platform_id == platform_id)).first()


def touch_chat(session: Session, platform: str, platform_id: int, kind: str, title: str | None) -> Chat:
    """The chat, created (not allowed) on first sight."""
    chat = get_chat(session, platform, platform_id)
    if chat is None:
        chat = _insert_once(session, Chat(platform=platform, platform_id=platform_id, kind=kind, title=title),
                            lambda: get_chat(session, platform, platform_id))
    elif title and chat.title != title:
        chat.title = title
        session.add(chat)
    return chat


def set_allowed(session: Session, platform: str, platform_id: int, allowed: bool, by: str) -> Chat:
    chat = get_chat(session, platform, platform_id) or Chat(platform=platform, platform_id=platform_id)
    chat.allowed = allowed
    chat.changed_by = by
    chat.changed_at = utcnow()
    session.add(chat)
    return chat


def ensure_owners(session: Session, admins: list[str]) -> None:
    """Make every configured `platform:id` an owner (the bootstrap admins)."""
    for entry in admins:
        platform, _, uid = entry.partition(":")
        user = touch_user(session, platform, int(uid), None)
        if user.role < Role.OWNER:
            user.role = int(Role.OWNER)
            session.add(user)


def allowed_chats(session: Session) -> list[Chat]:
    return list(session.exec(select(Chat).where(Chat.allowed == True)))  # noqa: E712
