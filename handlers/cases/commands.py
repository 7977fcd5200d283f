"""The /case commands: open, pick, fill, pivot, annotate, close, draw and export a chat's investigations."""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session

from bot.command import Arg, ArgKind, CommandError, CommandSet, Context, Option, Role
from bot.reply import Button, Reply, bold, code
from handlers.cases import entities as ent
from handlers.cases.bundle import CaseBundle, load, typed
from handlers.cases.entities import Entity, EntityError, EntityKind
from handlers.cases.export import FORMATS, export, filename
from handlers.cases.export_pdf import PdfUnavailable
from handlers.cases.export_stix import MALICIOUS_TAGS
from handlers.cases.findings import Findings, Recorded, from_post, host_link, record
from handlers.cases.links import parse_kind
from handlers.cases.pictures import graph_picture, timeline_picture
from handlers.cases.pivot import PIVOTABLE, pivot
from handlers.cases.report_meta import report_meta
from handlers.cases.tlp import Tlp, TlpError, parse_tlp
from handlers.lookup.commands import start as start_lookup
from storage import cases as store
from storage.models import Case, CaseEntity, CaseStatus, StoredPost

commands = CommandSet()
TITLE_CHARS = 256
NOTE_CHARS = 4000
SUMMARY_CHARS = 4000
SHOW_ENTITIES = 30
NO_CURRENT = "This chat has no current case. Start one with /case new <title>, or pick one with /case use <id>."
ADD_EXAMPLES = "/case add post:42 · /case add evil[.]com · /case add account:bluesky:alice.example"


def who(ctx: Context) -> str:
    """The caller as recorded on changes: display name and stable id."""
    return (f"{ctx.user.name} ({ctx.user.key})" if ctx.user.name else ctx.user.key)[:128]


def chosen(session: Session, ctx: Context, case_id: int | None) -> Case:
    """Case `case_id` of this chat, or the chat's current case when no id is given."""
    if case_id is None:
        case = store.current(session, ctx.chat.platform, ctx.chat.id)
        if case is None:
            raise CommandError(NO_CURRENT)
        return case
    case = store.in_chat(session, ctx.chat.platform, ctx.chat.id, case_id)
    if case is None:
        raise CommandError(f"There is no case {case_id} in this chat; /case list shows this chat's cases.")
    return case


def writable(session: Session, ctx: Context) -> Case:
    """The chat's current case, which must be open to take changes."""
    case = chosen(session, ctx, None)
    if case.status != CaseStatus.OPEN.value:
        raise CommandError(f"Case {case.id} is closed; reopen it with /case reopen {case.id} to change it.")
    return case


def entity_ref(session: Session, case: Case, text: str, region: str) -> CaseEntity | Entity:
    """`#12` (or `12`) names an entity of the case; anything else is parsed as an entity (stored one if known)."""
    text = text.strip()
    if text.lstrip("#").isdigit():
        found = store.entity(session, case.id or 0, int(text.lstrip("#")))
        if found is None:
            raise CommandError(f"Case {case.id} has no entity #{text.lstrip('#')}; /case show lists them.")
        return found
    try:
        parsed = ent.parse(text, default_region=region)
    except EntityError as exc:
        raise CommandError(str(exc)) from None
    return store.entity_by_key(session, case.id or 0, parsed.kind.value, parsed.key) or parsed


def as_entity(found: CaseEntity | Entity) -> Entity:
    return typed(found) if isinstance(found, CaseEntity) else found


def _case_id_arg() -> Arg:
    return Arg("id", "case id (default: this chat's current case)", ArgKind.INT, required=False)


def _added(result: Recorded, what: str, subject: Entity | None = None, details: Reply | None = None) -> Reply:
    reply = Reply.text("Added to case ", bold(f"{result.case.id}"), f" ({result.case.title}): ", what)
    reply.para(result.summary(), ".")
    if details is not None:
        reply.extend(details)
    buttons = [Button("Show case", f"/case show {result.case.id}")]
    if subject is not None and subject.kind in PIVOTABLE and subject.ref in result.ids:
        buttons.insert(0, Button("Pivot (look it up)", f"/case pivot #{result.ids[subject.ref]}"))
    return reply.buttons(buttons)


# --------------------------------------------------------------------------- lifecycle
@commands.command("case new", "Open a case for this chat and make it the current one",
                  example="/case new Phishing wave against Example Corp",
                  args=[Arg("title", "what the case is about", ArgKind.TEXT)], role=Role.ANALYST, mutates=True)
async def case_new(ctx: Context, title: str) -> Reply:
    title = " ".join(title.split())
    if len(title) > TITLE_CHARS:
        raise CommandError(f"Keep the title under {TITLE_CHARS} characters.")
    case = await ctx.services.db.run(lambda s: store.create(
        s, platform=ctx.chat.platform, chat_id=ctx.chat.id, title=title, by=who(ctx), now=ctx.services.now()))
    return Reply.text("📁 Case ", bold(str(case.id)), " opened: ", title).para(
        "It is now this chat's current case: add to it with ", code("/case add …"), " or the Add to case buttons."
    ).buttons([Button("Show case", f"/case show {case.id}")])


@commands.command("case list", "List this chat's cases", example="/case list")
async def case_list(ctx: Context) -> Reply:
    def read(session: Session) -> tuple[list[Case], dict[int, int], int | None]:
        cases = store.for_chat(session, ctx.chat.platform, ctx.chat.id)
        current = store.current(session, ctx.chat.platform, ctx.chat.id)
        return cases, store.entity_counts(session, [c.id or 0 for c in cases]), current.id if current else None

    cases, counts, current = await ctx.services.db.run(read)
    if not cases:
        return Reply.text("No cases in this chat yet. Start one with ", code("/case new <title>"), ".")
    rows = [[f"{c.id}{' *' if c.id == current else ''}", c.status, counts.get(c.id or 0, 0),
             f"{c.updated_at:%Y-%m-%d %H:%M}", c.title] for c in cases]
    reply = Reply().table(["id", "status", "entities", "last change", "title"], rows, title="Cases")
    return reply.para("* = this chat's current case. Switch with ", code("/case use <id>"), ".")


@commands.command("case use", "Make one of this chat's cases the current one", example="/case use 3",
                  args=[Arg("id", "case id", ArgKind.INT)], role=Role.ANALYST, mutates=True)
async def case_use(ctx: Context, id: int) -> Reply:
    def apply(session: Session) -> Case:
        case = chosen(session, ctx, id)
        store.set_current(session, case, who(ctx), ctx.services.now())
        return case

    case = await ctx.services.db.run(apply)
    closed = " (closed: reopen it to change it)" if case.status == CaseStatus.CLOSED.value else ""
    return Reply.text("Current case: ", bold(str(case.id)), f" — {case.title}{closed}.")


async def _set_status(ctx: Context, case_id: int | None, status: CaseStatus) -> Reply:
    def apply(session: Session) -> Case:
        case = chosen(session, ctx, case_id)
        if case.status == status.value:
            raise CommandError(f"Case {case.id} is already {status.value}.")
        store.set_status(session, case, status, who(ctx), ctx.services.now())
        return case

    case = await ctx.services.db.run(apply)
    return Reply.text(f"Case {case.id} ({case.title}) is now {status.value}.").buttons(
        [Button("Export HTML", f"/case export html --case {case.id}"),
         Button("Export STIX", f"/case export stix --case {case.id}")])


@commands.command("case close", "Close a case (it keeps everything; no more changes until reopened)",
                  example="/case close", args=[_case_id_arg()], role=Role.ANALYST, mutates=True)
async def case_close(ctx: Context, id: int | None = None) -> Reply:
    return await _set_status(ctx, id, CaseStatus.CLOSED)


@commands.command("case reopen", "Reopen a closed case", example="/case reopen 3",
                  args=[Arg("id", "case id", ArgKind.INT)], role=Role.ANALYST, mutates=True)
async def case_reopen(ctx: Context, id: int) -> Reply:
    return await _set_status(ctx, id, CaseStatus.OPEN)


# --------------------------------------------------------------------------- filling
@commands.command("case add", "Add a post, an account or an indicator to the current case",
                  example="/case add evil[.]com",
                  args=[Arg("item", "post:<id>, account:<source>:<handle>, kind:value (person:, org:, "
                                    "location:, phone:…) or any indicator", ArgKind.TEXT)],
                  role=Role.ANALYST, mutates=True)
async def case_add(ctx: Context, item: str) -> Reply:
    region = ctx.services.settings.lookups.default_region
    item = item.strip()
    subject: Entity | None = None
    if item.lower().startswith("post:"):
        post_id = item[5:].strip().lstrip("#")
        if not post_id.isdigit():
            raise CommandError("A post is added by its stored id, like post:42 (the Add to case button on an "
                               "alert does this).")
        row = await ctx.services.db.run(lambda s: s.get(StoredPost, int(post_id)))
        if row is None:
            raise CommandError(f"There is no stored post {post_id} (it may have been removed with /forget).")
        findings = from_post(row)
        what = f"post {row.source}:{row.source_id}"
    else:
        try:
            subject = ent.parse(item, default_region=region)
        except EntityError as exc:
            raise CommandError(f"{exc} Examples: {ADD_EXAMPLES}") from None
        findings = Findings("analyst", [subject])
        if subject.kind is EntityKind.URL:
            host_link(findings, subject)
        what = f"{subject.kind.value} {ent.defanged(subject)}"

    def apply(session: Session) -> Recorded:
        case = chosen(session, ctx, None)
        return record(session, case, findings, by=who(ctx), action="added", now=ctx.services.now())

    return _added(await ctx.services.db.run(apply), what, subject)


@commands.command("case pivot", "Look up an entity of the current case and add what is found, linked to it",
                  example="/case pivot #3",
                  args=[Arg("entity", "#id from /case show, or a value (added if new)", ArgKind.TEXT)],
                  role=Role.ANALYST, mutates=True, expensive=True, timeout=90)
async def case_pivot(ctx: Context, entity: str) -> Reply:
    region = ctx.services.settings.lookups.default_region
    case, found = await ctx.services.db.run(lambda s: _case_and_entity(s, ctx, entity, region))
    subject = as_entity(found)
    if subject.kind not in PIVOTABLE:
        raise CommandError(f"There is no lookup to pivot on from a {subject.kind.value}; pivots exist for "
                           + ", ".join(sorted(k.value for k in PIVOTABLE)) + ".")
    env = start_lookup(ctx)
    await ctx.progress(f"Looking up {subject.kind.value} {ent.defanged(subject)}…")
    findings = await pivot(env, subject)
    result = await ctx.services.db.run(
        lambda s: record(s, chosen(s, ctx, case.id), findings, by=who(ctx), action="pivot", now=ctx.services.now()))
    details = Reply()
    kinds = Counter(lk.kind.value for lk in findings.links)
    if kinds:
        details.kv([(k, str(n)) for k, n in sorted(kinds.items())], title="Links found")
    else:
        details.para("The lookups found nothing to link.")
    for remark in findings.remarks:
        details.para(remark)
    for provider, why in findings.failures.items():
        details.para("⚠️ ", f"{provider}: {why}")
    return _added(result, f"{subject.kind.value} {ent.defanged(subject)} looked up", details=details)


def _case_and_entity(session: Session, ctx: Context, text: str, region: str) -> tuple[Case, CaseEntity | Entity]:
    case = writable(session, ctx)
    return case, entity_ref(session, case, text, region)


@commands.command("case link", "Link two entities of the current case (e.g. same-as)",
                  example="/case link #3 same-as #7",
                  args=[Arg("entity", "#id or value the link starts from"),
                        Arg("kind", "link kind: same-as, related-to, posted…"),
                        Arg("other", "#id or value the link goes to")], role=Role.ANALYST, mutates=True)
async def case_link(ctx: Context, entity: str, kind: str, other: str) -> Reply:
    try:
        link_kind = parse_kind(kind)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    region = ctx.services.settings.lookups.default_region

    def apply(session: Session) -> Recorded:
        case = writable(session, ctx)
        src = as_entity(entity_ref(session, case, entity, region))
        dst = as_entity(entity_ref(session, case, other, region))
        if src.ref == dst.ref:
            raise CommandError("Both ends are the same entity.")
        findings = Findings("analyst")
        findings.link(src, link_kind, dst)
        return record(session, case, findings, by=who(ctx), action="linked", now=ctx.services.now())

    result = await ctx.services.db.run(apply)
    return _added(result, f"{entity} {link_kind.value} {other}")


@commands.command("case tag", "Tag an entity of the current case (malicious → a STIX indicator; actor → a threat "
                  "actor)", example="/case tag #4 malicious",
                  args=[Arg("entity", "#id or value"), Arg("tag", "a word: malicious, actor, victim…")],
                  role=Role.ANALYST, mutates=True)
async def case_tag(ctx: Context, entity: str, tag: str) -> Reply:
    return await _retag(ctx, entity, tag, add=True)


@commands.command("case untag", "Take a tag off an entity of the current case", example="/case untag #4 malicious",
                  args=[Arg("entity", "#id or value"), Arg("tag", "the tag to remove")],
                  role=Role.ANALYST, mutates=True)
async def case_untag(ctx: Context, entity: str, tag: str) -> Reply:
    return await _retag(ctx, entity, tag, add=False)


async def _retag(ctx: Context, entity: str, tag: str, *, add: bool) -> Reply:
    tag = tag.strip().lower()[:32]
    region = ctx.services.settings.lookups.default_region

    def apply(session: Session) -> tuple[Case, CaseEntity, bool]:
        case = writable(session, ctx)
        found = entity_ref(session, case, entity, region)
        if not isinstance(found, CaseEntity):
            raise CommandError(f"{entity} is not in case {case.id}; add it first with /case add.")
        changed = (store.add_tag if add else store.remove_tag)(session, found, tag)
        if changed:
            store.log(session, case, who(ctx), "tagged" if add else "untagged",
                      f"#{found.id} {found.kind} {found.value}: {tag}", ctx.services.now())
        return case, found, changed

    case, found, changed = await ctx.services.db.run(apply)
    shown = code(ent.defanged(typed(found)))
    if not add and not changed:
        return Reply.text(f"#{found.id} ", shown, f" in case {case.id} was not tagged {tag}.")
    tags = ", ".join(found.tags) or "no tags"
    reply = Reply.text(f"#{found.id} ", shown, f" in case {case.id} is tagged: ", tags, ".")
    if add and tag in MALICIOUS_TAGS:
        reply.para("The STIX export makes it an Indicator; untagged indicators are exported as observed data.")
    return reply


@commands.command("case note", "Add a note to the current case", example="/case note Registrar confirmed takedown",
                  args=[Arg("text", "the note", ArgKind.TEXT)], role=Role.ANALYST, mutates=True)
async def case_note(ctx: Context, text: str) -> Reply:
    if len(text) > NOTE_CHARS:
        raise CommandError(f"Keep a note under {NOTE_CHARS} characters.")

    def apply(session: Session) -> tuple[Case, int]:
        case = writable(session, ctx)
        return case, store.add_note(session, case, text, who(ctx), ctx.services.now()).id or 0

    case, note_id = await ctx.services.db.run(apply)
    return Reply.text(f"Note {note_id} added to case {case.id} ({case.title}).")


@commands.command("case summary", "Write the executive summary that opens the case's reports",
                  example="/case summary Phishing kit reused against three banks; registrar notified.",
                  args=[Arg("text", "the summary (a new one replaces the old)", ArgKind.TEXT, required=False)],
                  options=[Option("clear", "remove the summary", flag=True)], role=Role.ANALYST, mutates=True)
async def case_summary(ctx: Context, text: str | None = None, clear: bool = False) -> Reply:
    text = (text or "").strip()
    if len(text) > SUMMARY_CHARS:
        raise CommandError(f"Keep the summary under {SUMMARY_CHARS} characters (it is the report's first section).")
    if not text and not clear:
        case = await ctx.services.db.run(lambda s: chosen(s, ctx, None))
        if not case.summary:
            return Reply.text(f"Case {case.id} has no executive summary yet. Write one with ",
                              code("/case summary <text>"), ": it opens every report.")
        return Reply.text(bold(f"Executive summary of case {case.id}:")).para(case.summary).para(
            "Replace it with ", code("/case summary <text>"), ", remove it with ", code("/case summary --clear"), ".")

    def apply(session: Session) -> Case:
        case = writable(session, ctx)
        store.set_summary(session, case, text or None, who(ctx), ctx.services.now())
        return case

    case = await ctx.services.db.run(apply)
    if not text:
        return Reply.text(f"The executive summary of case {case.id} is removed.")
    return Reply.text(f"Executive summary of case {case.id} saved ({len(text)} characters); it opens the reports.")


def _tlp_levels() -> Reply:
    return Reply().kv([(level.label, level.meaning) for level in Tlp], title="TLP 2.0 levels")


@commands.command("case tlp", "Mark a case with a TLP 2.0 level: how far its reports may be shared",
                  example="/case tlp amber+strict",
                  args=[Arg("level", "clear, green, amber, amber+strict or red", required=False)],
                  role=Role.ANALYST, mutates=True)
async def case_tlp(ctx: Context, level: str | None = None) -> Reply:
    if level is None:
        case = await ctx.services.db.run(lambda s: chosen(s, ctx, None))
        meta = report_meta(case, ctx.services.settings)
        origin = "" if meta.tlp_chosen else " (the configured default: reports.default_tlp)"
        return Reply.text(f"Case {case.id} is marked ", bold(meta.tlp.label), f"{origin}. Change it with ",
                          code("/case tlp <level>"), ".").extend(_tlp_levels())
    try:
        chosen_level = parse_tlp(level)
    except TlpError as exc:
        raise CommandError(str(exc)) from None

    def apply(session: Session) -> Case:
        case = writable(session, ctx)
        store.set_tlp(session, case, chosen_level.value, who(ctx), ctx.services.now())
        return case

    case = await ctx.services.db.run(apply)
    return Reply.text(f"Case {case.id} is now marked ", bold(chosen_level.label), f": {chosen_level.meaning} "
                      "Every report shows it on each page, and STIX exports carry it as a marking definition.")


# --------------------------------------------------------------------------- reading
async def _bundle(ctx: Context, case_id: int | None) -> CaseBundle:
    settings = ctx.services.settings
    return await ctx.services.db.run(lambda s: load(s, chosen(s, ctx, case_id), ctx.services.now(), settings))


@commands.command("case show", "Show a case: summary, entities, latest notes", example="/case show",
                  args=[_case_id_arg()])
async def case_show(ctx: Context, id: int | None = None) -> Reply:
    bundle = await _bundle(ctx, id)
    case = bundle.case
    kinds = Counter(e.kind for e in bundle.entities)
    reply = Reply.text("📁 Case ", bold(str(case.id)), ": ", case.title)
    dates, meta = bundle.meta.dates, bundle.meta
    reply.kv([
        ("status", case.status),
        ("marking", meta.tlp.label + ("" if meta.tlp_chosen else " (default; /case tlp to set)")),
        ("opened", f"{dates.when(case.created_at)} by {case.created_by}"),
        ("last change", dates.when(case.updated_at)),
        ("entities", ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none yet"),
        ("links", str(len(bundle.links))), ("notes", str(len(bundle.notes))),
    ])
    if case.summary:
        reply.para(bold("Executive summary: "), case.summary)
    else:
        reply.para("No executive summary yet: ", code("/case summary <text>"), " writes the one reports open with.")
    if bundle.entities:
        shown = bundle.entities[-SHOW_ENTITIES:]
        reply.table(["#", "kind", "value", "tags"],
                    [[f"#{e.id}", e.kind, ent.defanged(typed(e)), ", ".join(e.tags)] for e in shown],
                    title="Entities" + (f" (latest {SHOW_ENTITIES} of {len(bundle.entities)})"
                                        if len(bundle.entities) > SHOW_ENTITIES else ""))
    for note in bundle.notes[-3:]:
        reply.para(f"📝 {dates.when(note.at)} {note.by}: ", note.text)
    return reply.buttons(
        [Button("Graph", f"/case graph {case.id}"), Button("Timeline", f"/case timeline {case.id}")],
        [Button("Export HTML", f"/case export html --case {case.id}"),
         Button("Export PDF", f"/case export pdf --case {case.id}"),
         Button("Export STIX", f"/case export stix --case {case.id}")])


@commands.command("case export", "Export a case as a file: " + ", ".join(FORMATS),
                  example="/case export html",
                  args=[Arg("format", "; ".join(f"{k}: {f.description}" for k, f in FORMATS.items()),
                            ArgKind.CHOICE, choices=tuple(FORMATS))],
                  options=[Option("case", "case id (default: this chat's current case)", ArgKind.INT)],
                  expensive=True, timeout=120)
async def case_export(ctx: Context, format: str, case: int | None = None) -> Reply:
    bundle = await _bundle(ctx, case)
    await ctx.progress(f"Exporting case {bundle.case.id} as {format}…")
    try:
        data = await export(bundle, format)
    except PdfUnavailable as exc:
        raise CommandError(str(exc)) from None
    spec = FORMATS[format]
    return Reply.text(f"Case {bundle.case.id} ({bundle.case.title}) as {spec.description}: "
                      f"{len(bundle.entities)} entities, {len(bundle.links)} links, marked {bundle.meta.tlp.label}."
                      ).attach(
        filename(bundle, format), data, spec.mime, f"Case {bundle.case.id} — {format}")


@commands.command("case graph", "Draw a case's entities and links as a picture", example="/case graph",
                  args=[_case_id_arg()], expensive=True, timeout=60)
async def case_graph(ctx: Context, id: int | None = None) -> Reply:
    bundle = await _bundle(ctx, id)
    if not bundle.entities:
        raise CommandError(f"Case {bundle.case.id} has no entities to draw yet; add some with /case add.")
    picture = await graph_picture(bundle)
    return Reply.text(picture.summary).attach(picture.filename, picture.png, "image/png", picture.summary)


@commands.command("case timeline", "Draw a case's posts and changes over time", example="/case timeline",
                  args=[_case_id_arg()], expensive=True, timeout=60)
async def case_timeline(ctx: Context, id: int | None = None) -> Reply:
    bundle = await _bundle(ctx, id)
    picture = await timeline_picture(bundle)
    return Reply.text(picture.summary).attach(picture.filename, picture.png, "image/png", picture.summary)
