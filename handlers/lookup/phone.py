"""/phone: validity, formats, region, carrier, line type and time zones (phonenumbers, offline)."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from bot.command import CommandError
from bot.reply import Reply, code
from handlers.lookup.report import heading, listing

LINE_TYPES = {
    PhoneNumberType.FIXED_LINE: "fixed line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed line or mobile",
    PhoneNumberType.TOLL_FREE: "toll free",
    PhoneNumberType.PREMIUM_RATE: "premium rate",
    PhoneNumberType.SHARED_COST: "shared cost",
    PhoneNumberType.VOIP: "VoIP",
    PhoneNumberType.PERSONAL_NUMBER: "personal number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "universal access number",
    PhoneNumberType.VOICEMAIL: "voicemail",
}


def lookup_phone(text: str, default_region: str) -> Reply:
    """The full /phone answer; numbers without + are read in `default_region`."""
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise CommandError(f"Could not read {text!r} as a phone number: {exc._msg}") from None
    from phonenumbers import carrier, geocoder, timezone  # imported here: their data tables slow start-up

    valid = phonenumbers.is_valid_number(number)
    region = phonenumbers.region_code_for_number(number)
    place = geocoder.description_for_number(number, "en")
    reply = heading("Phone", phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL))
    items: list[tuple[str, object]] = [
        ("valid", "yes" if valid else ("no, but possible" if phonenumbers.is_possible_number(number) else "no")),
        ("E.164", code(phonenumbers.format_number(number, PhoneNumberFormat.E164))),
        ("international", phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)),
        ("national", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)),
        ("region", f"{region or 'unknown'}" + (f" ({place})" if place else "")),
    ]
    if valid:
        items.append(("line type", LINE_TYPES.get(phonenumbers.number_type(number), "unknown")))
        items.append(("carrier", carrier.name_for_number(number, "en") or "unknown (or the number was ported)"))
        zones = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
        items.append(("time zones", listing(zones)))
    reply.kv(items)  # type: ignore[arg-type]
    if not text.strip().startswith("+"):
        reply.para(f"Read as a number in region {default_region.upper()} (no + given).")
    reply.para("Carrier is the original allocation; numbers can be ported. This lookup is offline.")
    return reply
