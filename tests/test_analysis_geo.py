"""Geolocation: geotags from payloads and EXIF GPS from images made here; nothing guessed."""

from __future__ import annotations

import io

import httpx
from PIL import Image, TiffImagePlugin

from handlers.analysis import geo
from handlers.lookup.ssrf import SsrfGuard
from tests.analysis_data import EPOCH, post

R = TiffImagePlugin.IFDRational


def jpeg_with_gps(lat: tuple[int, int, float], lat_ref: str, lon: tuple[int, int, float], lon_ref: str) -> bytes:
    img = Image.new("RGB", (40, 30), "blue")
    exif = Image.Exif()
    gps = exif.get_ifd(geo.GPS_IFD)
    gps[1], gps[2] = lat_ref, tuple(R(int(v * 100), 100) for v in lat)
    gps[3], gps[4] = lon_ref, tuple(R(int(v * 100), 100) for v in lon)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_exif_gps_read_with_hemispheres() -> None:
    loc = geo.exif_gps(jpeg_with_gps((33, 51, 35.64), "S", (151, 12, 30.12), "E"))
    assert loc is not None and loc.origin == "exif"
    assert abs(loc.lat - -33.8599) < 1e-3 and abs(loc.lon - 151.20837) < 1e-3
    assert "mlat=-33.85990" in loc.map_url


def test_images_without_gps_or_not_images_give_nothing() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "PNG")
    assert geo.exif_gps(buf.getvalue()) is None
    assert geo.exif_gps(b"not an image") is None


def test_geotag_shapes_and_null_island() -> None:
    assert geo.geotag(post("a", EPOCH, geo={"lat": 48.85, "lon": 2.35, "place": "Paris"})).place == "Paris"
    geojson = post(
        "b",
        EPOCH,
        raw={"coordinates": {"type": "Point", "coordinates": [2.35, 48.85]}, "place": {"full_name": "Paris, France"}},
    )
    loc = geo.geotag(geojson)
    assert loc and (loc.lat, loc.lon, loc.place) == (48.85, 2.35, "Paris, France")
    assert geo.geotag(post("c", EPOCH, geo={"lat": 0, "lon": 0})) is None
    assert geo.geotag(post("d", EPOCH, geo={"lat": 95, "lon": 0})) is None
    assert geo.geotag(post("e", EPOCH, "I am in Paris right now")) is None


def test_public_url_guard() -> None:
    assert geo.public_url("https://cdn.example.com/a.jpg")
    for bad in (
        "http://127.0.0.1/a.jpg",
        "http://10.0.0.5/x",
        "file:///etc/passwd",
        "http://localhost/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
    ):
        assert not geo.public_url(bad), bad


async def test_fetch_image_gps_bounded_and_offline() -> None:
    image = jpeg_with_gps((51, 30, 0), "N", (0, 7, 0), "W")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big.jpg":
            return httpx.Response(200, content=b"x" * (geo.MAX_IMAGE_BYTES + 10))
        return httpx.Response(200, content=image)

    async def resolve(host: str, port: int) -> list[str]:  # img.example.com is public, offline
        return ["93.184.216.34"]

    guard = SsrfGuard(resolve, max_bytes=geo.MAX_IMAGE_BYTES)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        loc = await geo.fetch_image_gps(client, "https://img.example.com/p.jpg", guard)
        assert loc and abs(loc.lat - 51.5) < 1e-6 and abs(loc.lon + 0.11667) < 1e-4
        assert await geo.fetch_image_gps(client, "https://img.example.com/big.jpg", guard) is None
        assert await geo.fetch_image_gps(client, "http://192.168.1.1/p.jpg", guard) is None
