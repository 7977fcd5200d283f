"""Where posts were made, only from explicit evidence: source geotags and GPS in images' EXIF.

Nothing is inferred from text or guessed: a post with no coordinates has no location. Coordinates
outside the valid ranges, and exactly (0, 0) ("Null Island", a common default for a missing fix), are
rejected. Images are fetched only through the SSRF guard (http(s), every redirect hop resolved and
checked, the connection pinned to a public address), at most MAX_IMAGE_BYTES each.
"""

from __future__ import annotations

import io
import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

from bot.services import Services
from bot.shared import Slot
from handlers.fetch import FetchError
from handlers.lookup.ssrf import Blocked, SsrfGuard
from handlers.monitor.post import Post

MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_GUARD: Slot[SsrfGuard] = Slot("image_ssrf_guard")
GPS_IFD = 0x8825


@dataclass(frozen=True)
class Location:
    """Coordinates with where they came from and a place name when the source gave one."""

    lat: float
    lon: float
    origin: str  # "geotag" | "exif"
    place: str | None = None

    @property
    def map_url(self) -> str:
        return f"https://www.openstreetmap.org/?mlat={self.lat:.5f}&mlon={self.lon:.5f}#map=14/{self.lat:.5f}/{self.lon:.5f}"

    @property
    def coords(self) -> str:
        return f"{self.lat:.5f}, {self.lon:.5f}"


def _valid(lat: Any, lon: Any) -> tuple[float, float] | None:
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180) or (lat_f == 0 and lon_f == 0):
        return None
    return lat_f, lon_f


def _from_mapping(d: dict[str, Any]) -> tuple[float, float] | None:
    lat = d.get("lat", d.get("latitude"))
    lon = d.get("lon", d.get("lng", d.get("long", d.get("longitude"))))
    if lat is not None and lon is not None:
        return _valid(lat, lon)
    coords = d.get("coordinates")
    if isinstance(coords, (list, tuple)) and len(coords) == 2:  # GeoJSON order: lon, lat
        return _valid(coords[1], coords[0])
    if isinstance(coords, dict):
        return _from_mapping(coords)
    return None


def _place_name(*candidates: Any) -> str | None:
    for c in candidates:
        if isinstance(c, str) and c.strip():
            return c.strip()[:200]
        if isinstance(c, dict):
            name = c.get("full_name") or c.get("name")
            if isinstance(name, str) and name.strip():
                return name.strip()[:200]
    return None


def geotag(post: Post) -> Location | None:
    """The post's geotag: the normalised `geo` first, then common payload shapes in `raw`."""
    if isinstance(post.geo, dict) and (ll := _from_mapping(post.geo)):
        return Location(*ll, "geotag", _place_name(post.geo.get("place")))
    raw = post.raw if isinstance(post.raw, dict) else {}
    for key in ("geo", "coordinates", "location"):
        value = raw.get(key)
        if isinstance(value, dict) and (ll := _from_mapping(value)):
            return Location(*ll, "geotag", _place_name(raw.get("place"), value.get("place")))
    return None


def media_gps(post: Post) -> Location | None:
    """GPS already read from an attached image by the source or import (`media[i]["gps"]`)."""
    for m in post.media:
        gps = m.get("gps") if isinstance(m, dict) else None
        if isinstance(gps, dict) and (ll := _from_mapping(gps)):
            return Location(*ll, "exif")
    return None


def _dms(value: Any, ref: Any) -> float:
    d, m, s = (float(x) for x in value)
    deg = d + m / 60 + s / 3600
    return -deg if str(ref).upper() in ("S", "W") else deg


def exif_gps(data: bytes) -> Location | None:
    """GPS coordinates from an image's EXIF, or None when it has none (or is not an image)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            gps = img.getexif().get_ifd(GPS_IFD)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    try:
        lat = _dms(gps[2], gps.get(1, "N"))
        lon = _dms(gps[4], gps.get(3, "E"))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    ll = _valid(lat, lon)
    return Location(*ll, "exif") if ll else None


def image_urls(post: Post) -> list[str]:
    """URLs of the post's attached images."""
    out = []
    for m in post.media:
        if not isinstance(m, dict):
            continue
        url = m.get("url")
        kind = str(m.get("type") or m.get("mime") or "image")
        if isinstance(url, str) and kind.startswith(("image", "photo")):
            out.append(url)
    return out


def public_url(url: str) -> bool:
    """True for http(s) URLs whose host is a name or a public IP address."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or host == "localhost" or host.endswith(".local"):
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return True
    return ip.is_global


def image_guard(services: Services) -> SsrfGuard:
    """The SSRF guard image downloads go through (tests put one with a fake resolver here)."""
    return services.shared.setdefault(IMAGE_GUARD, lambda: SsrfGuard(max_bytes=MAX_IMAGE_BYTES))


async def fetch_image_gps(client: httpx.AsyncClient, url: str, guard: SsrfGuard) -> Location | None:
    """Download an image through the SSRF guard (bounded) and read its EXIF GPS; None on any failure."""
    if not public_url(url):
        return None
    try:
        response = await guard.fetch(client, url)
    except (Blocked, FetchError):
        return None
    if response.status != 200 or response.truncated or len(response.body) > MAX_IMAGE_BYTES:
        return None
    return exif_gps(response.body)
