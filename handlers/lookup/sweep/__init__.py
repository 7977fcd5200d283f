"""The username sweep: site lists (WhatsMyName native, Sherlock and Maigret imported) and the engine."""

from handlers.lookup.sweep.engine import Limits, SiteResult, Sweeper
from handlers.lookup.sweep.site import FormatError, Site, normalise_username
from handlers.lookup.sweep.sitelist import SiteList, default_sites, read_site_file, select
from handlers.lookup.sweep.verdict import Status

__all__ = [
    "FormatError",
    "Limits",
    "Site",
    "SiteList",
    "SiteResult",
    "Status",
    "Sweeper",
    "default_sites",
    "normalise_username",
    "read_site_file",
    "select",
]
