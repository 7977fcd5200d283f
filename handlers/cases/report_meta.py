"""What a report says about itself: its TLP marking, author and organisation, and the zone its dates are in."""

from __future__ import annotations

from dataclasses import dataclass, field

from config.settings import Settings
from handlers.cases.human_dates import HumanDates
from handlers.cases.tlp import Tlp
from storage.models import Case


@dataclass(frozen=True)
class ReportMeta:
    """Who a report is from, how far it may be shared, and which clock its dates are read on."""

    tlp: Tlp = Tlp.AMBER
    tlp_chosen: bool = False  # set on the case with /case tlp (not the configured default)
    author: str = ""
    organisation: str = ""
    dates: HumanDates = field(default_factory=HumanDates)

    @property
    def byline(self) -> str:
        """`Jane Doe, Example CTI` — or whichever of the two is known."""
        return ", ".join(p for p in (self.author, self.organisation) if p)


def opener(case: Case) -> str:
    """The name of who opened the case, without the `(platform:id)` the change log keeps."""
    return case.created_by.rsplit(" (", 1)[0]


def report_meta(case: Case, settings: Settings | None = None) -> ReportMeta:
    """The report settings for `case`: configured author, organisation, zone and default TLP, and the case's TLP."""
    if settings is None:
        return ReportMeta(Tlp(case.tlp) if case.tlp else Tlp.AMBER, bool(case.tlp), opener(case))
    reports = settings.reports
    level = Tlp(case.tlp) if case.tlp else Tlp(reports.default_tlp)
    return ReportMeta(level, bool(case.tlp), reports.author or opener(case), reports.organisation,
                      HumanDates(reports.timezone or settings.timezone))
