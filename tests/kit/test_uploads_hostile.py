"""Hostile uploads against ``MediaStorage`` (in a temporary folder) and through two routes: decompression bombs
refused by their declared size before decoding, quickly; files over the byte limit; text, HTML and SVG named
like images refused; a JPEG followed by HTML re-encoded to a clean image; EXIF (GPS) and PNG text chunks
stripped; documents stored under generated names inside the private folder whatever the uploader called
them, served with a quoted or RFC 5987 filename, ``nosniff`` and the content type of their content; public
images served as images whatever content type the browser claimed."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from souk.errors import Invalid, PayloadTooLarge
from souk.kit.uploads import MediaStorage

MAX_BYTES = 1024 * 1024
MAX_PIXELS = 40_000_000
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture
def storage(tmp_path: Path) -> MediaStorage:
    return MediaStorage(tmp_path / "uploads", max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int) -> bytes:
    """A PNG header declaring ``width`` x ``height`` 1-bit pixels with a few rows of data: a few hundred bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * ((width + 7) // 8 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose logical screen and only frame declare ``width`` x ``height`` pixels."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00;"
    return screen + frame


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, fmt, **params)
    return buffer.getvalue()


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPSInfo
    data = image_bytes("JPEG", exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as check:  # the fixture really carries the GPS position
        assert check.getexif().get_ifd(0x8825)[1] == "N"
    return data


def png_with_text() -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "home address: 1 Secret Lane")
    info.add_itxt("Author", "Jane Doe")
    data = image_bytes("PNG", pnginfo=info)
    with Image.open(io.BytesIO(data)) as check:
        assert check.info["Comment"] == "home address: 1 Secret Lane"
    return data


def refused(call, field: str) -> str:  # type: ignore[no-untyped-def]
    """The problem of the Invalid that ``call`` raises for ``field`` (checked to be the only field)."""
    with pytest.raises(Invalid) as caught:
        call()
    assert list(caught.value.fields) == [field]
    return str(caught.value.fields[field])


class TestBombs:
    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            (
                png_declaring(30000, 30000),
                "is too large (more than 40000000 pixels)",
            ),  # above Pillow's own bomb limit
            (
                png_declaring(10000, 10000),
                "is too large (10000x10000 pixels)",
            ),  # warned by Pillow, ours refuses
            (png_declaring(8000, 6000), "is too large (8000x6000 pixels)"),  # only our limit
            (gif_declaring(30000, 30000), "is too large (more than 40000000 pixels)"),
        ],
        ids=["png-900M", "png-100M", "png-48M", "gif-900M"],
    )
    def test_refused_by_the_declared_size_quickly(
        self, storage: MediaStorage, data: bytes, problem: str
    ) -> None:
        assert len(data) < 1000
        started = time.perf_counter()
        assert refused(lambda: storage.save_image(data, subdir="products"), "image") == problem
        assert refused(lambda: storage.save_document(data, "scan.png", subdir="orgs"), "document") == problem
        assert time.perf_counter() - started < 1.0
        assert not storage.root.exists()  # nothing written

    def test_a_real_compressed_bomb_is_refused_before_decoding(self, storage: MediaStorage) -> None:
        buffer = io.BytesIO()
        Image.new("1", (7000, 7000)).save(buffer, "PNG")  # 49 M pixels in a few KB
        data = buffer.getvalue()
        assert len(data) < 50_000
        started = time.perf_counter()
        assert refused(lambda: storage.save_image(data, subdir="products", field="files"), "files") == (
            "is too large (7000x7000 pixels)"
        )
        assert time.perf_counter() - started < 1.0

    def test_over_the_byte_limit_is_413_naming_the_field(self, storage: MediaStorage) -> None:
        data = image_bytes("PNG") + b"\0" * MAX_BYTES
        for call in (
            lambda: storage.save_image(data, subdir="products", field="photo"),
            lambda: storage.save_document(data, "a.pdf", subdir="orgs", field="photo"),
            lambda: storage.check_pdf(b"%PDF-1.7\n" + data, field="photo"),
        ):
            with pytest.raises(PayloadTooLarge) as caught:
                call()
            assert caught.value.code == "file_too_large" and list(caught.value.fields) == ["photo"]


class TestNotImages:
    @pytest.mark.parametrize(
        "data",
        [
            b"just some text\n" * 20,
            HTML,
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            b"\xff\xd8\xff\xe0" + HTML,  # a JPEG signature and nothing of a JPEG after it
            b"GIF89a" + HTML,
        ],
        ids=["text", "html", "svg", "jpeg-magic", "gif-magic"],
    )
    def test_refused_as_image_and_as_document(self, storage: MediaStorage, data: bytes) -> None:
        assert refused(lambda: storage.save_image(data, subdir="products"), "image") in (
            "is not a valid image file",
            "must be a JPEG, PNG or WebP image",
        )
        refused(lambda: storage.save_document(data, "photo.jpg", subdir="orgs"), "document")
        assert refused(lambda: storage.check_pdf(data), "document") == "must be a PDF file"
        assert not storage.root.exists()

    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
    def test_a_polyglot_is_re_encoded_clean(self, storage: MediaStorage, fmt: str) -> None:
        data = image_bytes(fmt) + HTML
        stored = storage.save_image(data, subdir="products")
        for rel in (stored.path, stored.thumb_path):
            body = storage.absolute(rel).read_bytes()
            assert b"<script" not in body and b"<html" not in body
            with Image.open(io.BytesIO(body)) as image:
                image.load()
                assert image.format in ("JPEG", "PNG")
        assert stored.content_type == "image/jpeg" and stored.path.endswith(".jpg")

    def test_a_polyglot_document_image_is_re_encoded_clean(self, storage: MediaStorage) -> None:
        stored = storage.save_document(image_bytes("JPEG") + HTML, "scan.jpg", subdir="orgs")
        body = storage.private_file(stored.path).read_bytes()
        assert (
            b"<script" not in body and stored.content_type == "image/jpeg" and stored.size_bytes == len(body)
        )
        with Image.open(io.BytesIO(body)) as image:
            assert image.format == "JPEG"


class TestMetadata:
    def test_exif_and_gps_are_stripped(self, storage: MediaStorage) -> None:
        stored = storage.save_image(jpeg_with_gps(), subdir="products")
        for rel in (stored.path, stored.thumb_path):
            body = storage.absolute(rel).read_bytes()
            assert b"PhoneMaker" not in body
            with Image.open(io.BytesIO(body)) as image:
                assert dict(image.getexif()) == {} and "exif" not in image.info

    def test_png_text_chunks_are_stripped(self, storage: MediaStorage) -> None:
        stored = storage.save_image(png_with_text(), subdir="products")
        for rel in (stored.path, stored.thumb_path):
            body = storage.absolute(rel).read_bytes()
            assert b"Secret Lane" not in body and b"Jane Doe" not in body
            with Image.open(io.BytesIO(body)) as image:
                assert not {"Comment", "Author"} & set(image.info)

    def test_document_images_lose_their_metadata_too(self, storage: MediaStorage) -> None:
        for data, name in ((jpeg_with_gps(), "id.jpg"), (png_with_text(), "id.png")):
            stored = storage.save_document(data, name, subdir="orgs")
            body = storage.private_file(stored.path).read_bytes()
            assert b"PhoneMaker" not in body and b"Secret Lane" not in body
            with Image.open(io.BytesIO(body)) as image:
                assert dict(image.getexif()) == {} and not {"Comment", "Author", "exif"} & set(image.info)

    def test_a_clean_document_image_is_kept_as_sent(self, storage: MediaStorage) -> None:
        data = image_bytes("PNG")
        stored = storage.save_document(data, "licence.png", subdir="orgs")
        assert storage.private_file(stored.path).read_bytes() == data


HOSTILE_NAMES = [
    "../../etc/passwd.pdf",
    "..\\..\\windows\\win.ini.pdf",
    "/etc/passwd",
    "<script>alert(1)</script>.pdf",
    'report".pdf',
    "evil\r\nSet-Cookie: a=b.pdf",
    "a" * 1000 + ".pdf",
    "договор №5 📄.pdf",
    "",
    "..",
]


class TestSafeNames:
    @pytest.mark.parametrize("name", HOSTILE_NAMES)
    def test_stored_under_a_generated_name_inside_the_private_folder(
        self, storage: MediaStorage, name: str
    ) -> None:
        pdf = b"%PDF-1.4\n%%EOF\n"
        stored = storage.save_document(pdf, name, subdir="orgs")
        target = storage.private_file(stored.path)
        assert target.is_relative_to(storage.private_root.resolve()) and target.read_bytes() == pdf
        assert stored.path.startswith("orgs/") and stored.path.endswith(".pdf")
        assert Path(stored.path).name[:-4].isalnum() and ".." not in stored.path
        assert stored.content_type == "application/pdf"
        shown = stored.filename
        assert 0 < len(shown) <= 200 and shown.isprintable()
        assert not {"/", "\\", "\r", "\n", "\0"} & set(shown) and shown not in (".", "..")
        # nothing was written anywhere but the private folder
        written = [p for p in storage.root.rglob("*") if p.is_file()]
        assert [p.resolve() for p in written] == [target]

    def test_the_content_decides_the_type_not_the_name(self, storage: MediaStorage) -> None:
        as_png = storage.save_document(b"%PDF-1.4\n%%EOF\n", "photo.png", subdir="orgs")
        as_pdf = storage.save_document(image_bytes("PNG"), "contract.pdf", subdir="orgs")
        assert (as_png.content_type, as_png.path[-4:]) == ("application/pdf", ".pdf")
        assert (as_pdf.content_type, as_pdf.path[-4:]) == ("image/png", ".png")
        assert refused(lambda: storage.save_document(HTML, "contract.pdf", subdir="orgs"), "document")

    @pytest.mark.parametrize("path", ["../public/x.jpg", "../../../etc/passwd", "/etc/passwd"])
    def test_a_path_out_of_the_private_folder_is_refused(self, storage: MediaStorage, path: str) -> None:
        assert refused(lambda: storage.private_file(path), "path") == "is not a stored document"


# --- through the routes -------------------------------------------------------------------------------------


async def _product(session: AsyncSession, user_factory, store_factory, product_factory):  # type: ignore[no-untyped-def]
    owner = await user_factory()
    product = await product_factory(await store_factory(owner=owner))
    headers = await api_token_for(session, owner)
    await session.commit()
    return product.id, headers


class TestRoutes:
    async def test_product_image_bomb_is_422_quickly(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        started = time.perf_counter()
        r = await client.post(
            f"/api/v1/products/{pid}/images",
            headers=headers,
            files=[("files", ("bomb.png", png_declaring(30000, 30000), "image/png"))],
        )
        assert time.perf_counter() - started < 2.0
        assert r.status_code == 422 and r.json()["fields"] == {
            "image": "is too large (more than 40000000 pixels)"
        }

    async def test_an_image_sent_as_text_html_is_served_as_an_image(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        r = await client.post(
            f"/api/v1/products/{pid}/images",
            headers=headers,
            files=[("files", ("page.html", image_bytes("JPEG") + HTML, "text/html"))],
        )
        assert r.status_code == 201, r.text
        image = r.json()[0]
        assert image["content_type"] == "image/jpeg" and image["url"].endswith(".jpg")
        for url in (image["url"], image["thumb_url"]):
            served = await client.get(url)
            assert served.status_code == 200
            assert served.headers["content-type"] == "image/jpeg"
            assert served.headers["x-content-type-options"] == "nosniff"
            assert b"<script" not in served.content

    async def test_an_organisation_document_with_a_hostile_name(
        self, client: httpx.AsyncClient, session: AsyncSession, app, user_factory, organization_factory
    ) -> None:
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        org_id = org.id
        headers = await api_token_for(session, owner)
        await session.commit()
        pdf = b"%PDF-1.4\n%%EOF\n"
        storage = app.state.storage
        for name in ("../../etc/passwd.pdf", "<script>x</script>\r\nX-Evil: 1.pdf", "договор 📄.pdf"):
            r = await client.post(
                f"/api/v1/organizations/{org_id}/documents",
                files={"file": (name, pdf, "text/html")},
                data={"kind": "registration"},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            doc = r.json()
            assert doc["content_type"] == "application/pdf" and "/" not in doc["filename"]
            assert "\r" not in doc["filename"] and "\n" not in doc["filename"]
            served = await client.get(doc["download_url"], headers=headers)
            assert served.status_code == 200 and served.content == pdf
            assert served.headers["content-type"] == "application/pdf"
            assert served.headers["x-content-type-options"] == "nosniff"
            disposition = served.headers["content-disposition"]
            assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
            assert "<" not in disposition and "/" not in disposition.split(";", 1)[1].replace("%2F", "")
            assert disposition.startswith("inline; filename")
        files = [p.resolve() for p in storage.root.rglob("*") if p.is_file()]
        assert all(p.is_relative_to(storage.root.resolve()) for p in files)
