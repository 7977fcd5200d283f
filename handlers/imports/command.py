"""/import: posts from an attached file (Telegram Desktop result.json, JSONL or CSV)."""

from __future__ import annotations

import time

from bot.command import ArgKind, CommandError, CommandSet, Context, Option, Role, UsageError
from bot.reply import Reply, code
from handlers.imports.csv_posts import parse_mapping
from handlers.imports.importer import FORMATS, ImportFailed, ImportReport, import_file

commands = CommandSet()

MAX_CHAT_IMPORT_BYTES = 20 << 20  # the Telegram Bot API will not hand a bot a bigger file anyway
SHOWN_ERRORS = 15
PROGRESS_EVERY_S = 3.0
# Decided (docs/SECURITY.md, "One team, one store"): stored posts, collected or imported, are one corpus
# that every allowed chat analyses; roles are per person, not per chat, so a per-chat import would be no
# wall. Say so where it matters, when someone imports.
SHARED_NOTE = ("Imported posts join the bot's shared store: every allowed chat can analyse them (/profile, "
               "/network, /watch test...). Import into a separate deployment what some allowed chats may not see.")


def report_reply(report: ImportReport, filename: str) -> Reply:
    """The import's outcome: counts, why rows were not imported, what the watches matched, the first bad rows."""
    reply = Reply().kv([
        ("file", filename),
        ("format", report.format),
        ("imported", str(report.imported)),
        ("duplicates", str(report.duplicates)),
        ("skipped", str(report.skipped)),
        ("errors", str(report.error_count)),
        ("watch matches", f"{report.matched} ({report.alerts} alerts queued: older posts are matched, not alerted)"
         if report.matched else "0"),
        ("time", f"{report.seconds:.1f}s"),
    ], title="Import")
    why = report.why_not_imported()
    if why:
        reply.para("Not imported: " + "; ".join(why) + ".")
    if report.errors:
        shown = report.errors[:SHOWN_ERRORS]
        reply.table(["where", "problem"], [(e.where, e.message) for e in shown],
                    title=f"Rows not imported (first {len(shown)} of {report.error_count})")
    elif report.imported == 0 and report.duplicates == 0 and not report.skipped:
        reply.para("Nothing was imported: the file has no posts.")
    if report.imported:
        reply.para("Find them with ", code("/search <query> --since all"), "; analyse them with e.g. ",
                   code("/sentiment all"), ".")
    return reply


@commands.command(
    "import", "Import posts from an attached file: Telegram Desktop result.json, JSONL or CSV",
    example="/import --source forum-dump (with posts.jsonl attached)",
    options=[
        Option("format", "file format (detected from the name and contents by default)",
               kind=ArgKind.CHOICE, choices=FORMATS),
        Option("source", "source name for rows that do not say (default: import)"),
        Option("map", "CSV columns to use, e.g. id=tweet_id,text=content"),
    ],
    role=Role.ANALYST, mutates=True, expensive=True, timeout=900,
)
async def import_cmd(ctx: Context, format: str | None, source: str | None, map: str | None) -> Reply:
    if not ctx.files:
        raise UsageError("Attach the file to the /import message (result.json, .jsonl or .csv).")
    attached = ctx.files[0]
    limit_mb = MAX_CHAT_IMPORT_BYTES >> 20
    if attached.size > MAX_CHAT_IMPORT_BYTES:
        raise CommandError(f"{attached.filename} is {attached.size / 1e6:.1f} MB; chat imports take up to "
                           f"{limit_mb} MB. Run `socmint import FILE` on the server for bigger files.")
    try:
        mapping = parse_mapping(map)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    data = await attached.fetch()
    if len(data) > MAX_CHAT_IMPORT_BYTES:
        raise CommandError(f"{attached.filename} is larger than {limit_mb} MB.")
    await ctx.progress(f"Importing {attached.filename}…")

    last_update = time.monotonic()

    async def progress(report: ImportReport) -> None:
        nonlocal last_update
        if time.monotonic() - last_update >= PROGRESS_EVERY_S:  # chat platforms limit message edits
            last_update = time.monotonic()
            await ctx.progress(f"Importing {attached.filename}: {report.imported} imported, "
                               f"{report.error_count} errors so far…")

    try:
        report = await import_file(ctx.services, data, format, name=attached.filename, source=source,
                                   mapping=mapping, progress=progress)
    except ImportFailed as exc:
        return Reply.error(f"{attached.filename} could not be imported: {exc}",
                           example="/import --format csv --map id=tweet_id,text=content")
    reply = report_reply(report, attached.filename)
    if report.imported:
        reply.para(SHARED_NOTE)
    return reply
