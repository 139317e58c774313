"""Uploaded files: images are checked by decoding them with Pillow, re-encoded, size-limited and thumbnailed;
documents (PDF or image) are checked by their content, not by the name or the browser's content type.

Images are written under ``<data dir>/uploads/public`` and served at ``/media/...``; documents (company
registrations, brand authorisations) under ``<data dir>/uploads/private``, which is never served as static
files: routes that check who is asking stream them (``MediaStorage.private_file``). Names are random, never
the uploader's filename.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from souk.errors import PayloadTooLarge, invalid_field

IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
MAX_IMAGE_SIDE = 2000
THUMB_SIDE = 400
# what a plain image file carries: anything else (EXIF, XMP, comments, text chunks) is stripped from documents
PLAIN_INFO = {
    "dpi", "jfif", "jfif_version", "jfif_unit", "jfif_density", "progressive", "progression", "adobe",
    "adobe_transform", "icc_profile", "gamma", "srgb", "transparency", "aspect", "chromaticity", "loop",
    "background", "duration", "timestamp",
}  # fmt: skip


@dataclass(frozen=True)
class StoredImage:
    path: str  # relative to the uploads dir, e.g. "products/ab/abcd.jpg"
    thumb_path: str
    width: int
    height: int
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class StoredDocument:
    path: str
    content_type: str
    size_bytes: int
    filename: str


class MediaStorage:
    def __init__(self, root: Path, *, max_bytes: int, max_pixels: int) -> None:
        self.root = root
        self.public_root = root / "public"
        self.private_root = root / "private"
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    def url(self, path: str | None) -> str | None:
        return f"/media/{path}" if path else None

    def absolute(self, path: str) -> Path:
        """The file of a public (image) path."""
        return self.public_root / path

    def private_file(self, path: str) -> Path:
        """The file of a private (document) path; refuses paths that escape the private folder."""
        target = (self.private_root / path).resolve()
        if not target.is_relative_to(self.private_root.resolve()):
            raise invalid_field("path", "is not a stored document")
        return target

    def _check_size(self, data: bytes, field: str) -> None:
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(
                f"{field}: the file is {len(data) // 1024} KB; the limit is {self.max_bytes // 1024} KB",
                code="file_too_large",
                fields={field: f"must be at most {self.max_bytes // (1024 * 1024)} MB"},
            )
        if not data:
            raise invalid_field(field, "the file is empty")

    def _new_path(self, subdir: str, ext: str) -> str:
        name = secrets.token_hex(12)
        return f"{subdir}/{name[:2]}/{name}.{ext}"

    def _write(self, rel: str, data: bytes, *, private: bool = False) -> None:
        target = (self.private_root if private else self.public_root) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def decode_image(self, data: bytes, field: str = "image") -> Image.Image:
        self._check_size(data, field)
        try:
            with warnings.catch_warnings():  # our own pixel limit below decides, before anything is decoded
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                probe = Image.open(io.BytesIO(data))
            with probe:
                fmt = probe.format
                width, height = probe.size
                if fmt not in IMAGE_FORMATS:
                    raise invalid_field(field, "must be a JPEG, PNG or WebP image")
                if width * height > self.max_pixels:
                    raise invalid_field(field, f"is too large ({width}x{height} pixels)")
                probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
        except Image.DecompressionBombError as exc:  # declares far more pixels than Pillow's own limit
            raise invalid_field(field, f"is too large (more than {self.max_pixels} pixels)") from exc
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
        ) as exc:
            raise invalid_field(field, "is not a valid image file") from exc
        return image

    def save_image(self, data: bytes, *, subdir: str, field: str = "image") -> StoredImage:
        """Validate, normalise (orientation, RGB, at most 2000 px) and store an image and its thumbnail."""
        image = self.decode_image(data, field)
        image = ImageOps.exif_transpose(image)
        has_alpha = image.mode in ("RGBA", "LA", "P")
        image = image.convert("RGBA" if has_alpha else "RGB")
        image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
        fmt, ext, ctype = ("PNG", "png", "image/png") if has_alpha else ("JPEG", "jpg", "image/jpeg")
        main = io.BytesIO()
        image.save(main, fmt, **({"quality": 85, "optimize": True} if fmt == "JPEG" else {"optimize": True}))
        thumb = ImageOps.fit(image.convert("RGB"), (THUMB_SIDE, THUMB_SIDE))
        thumb_bytes = io.BytesIO()
        thumb.save(thumb_bytes, "JPEG", quality=80)
        path = self._new_path(subdir, ext)
        thumb_path = path.rsplit(".", 1)[0] + "_t.jpg"
        self._write(path, main.getvalue())
        self._write(thumb_path, thumb_bytes.getvalue())
        return StoredImage(path, thumb_path, image.width, image.height, ctype, len(main.getvalue()))

    def check_pdf(self, data: bytes, field: str = "document") -> None:
        """Refuse a file that is not a PDF by its content (the ``%PDF-`` header save_document recognises),
        empty or above the size limit; for evidence that must be a document, not a photo."""
        self._check_size(data, field)
        if not data.startswith(b"%PDF-"):
            raise invalid_field(field, "must be a PDF file")

    def save_document(
        self, data: bytes, filename: str, *, subdir: str, field: str = "document"
    ) -> StoredDocument:
        """Store a PDF or an image document (checked by its content)."""
        self._check_size(data, field)
        if data.startswith(b"%PDF-"):
            ext, ctype = "pdf", "application/pdf"
        else:
            image = self.decode_image(data, field)
            fmt = image.format or "PNG"
            if fmt not in IMAGE_FORMATS:
                raise invalid_field(field, "must be a PDF or an image")
            ctype, ext = IMAGE_FORMATS[fmt]
            if not _is_plain(image, data):
                data = _reencoded(image, fmt)
        path = self._new_path(subdir, ext)
        self._write(path, data, private=True)
        base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]  # the last part of a Windows path too
        safe_name = "".join(ch for ch in base if ch.isprintable()).strip(" .")[:200]  # no "..", no CR/LF
        return StoredDocument(path, ctype, len(data), safe_name or f"document.{ext}")


def _is_plain(image: Image.Image, data: bytes) -> bool:
    """Whether an image file carries no metadata (EXIF, XMP, comments, text chunks) and nothing after its end
    (such as HTML appended to a JPEG): such a file is stored as sent."""
    if set(image.info) - PLAIN_INFO or image.getexif():
        return False
    if image.format == "JPEG":
        return data.endswith(b"\xff\xd9")
    if image.format == "PNG":
        return data.endswith(b"IEND\xaeB`\x82")
    return data[:4] == b"RIFF" and int.from_bytes(data[4:8], "little") + 8 == len(data)


def _reencoded(image: Image.Image, fmt: str) -> bytes:
    """The pixels of ``image`` (turned upright) in a new file of its format, without its metadata."""
    image = ImageOps.exif_transpose(image)
    if fmt == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(
        out, fmt, **({"quality": 90} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {})
    )
    return out.getvalue()


async def read_upload(upload: object, max_bytes: int, field: str) -> bytes:
    """Read an uploaded file (Starlette ``UploadFile``), refusing it before reading when it is too large."""
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise PayloadTooLarge(
            f"{field}: the file is larger than {max_bytes // (1024 * 1024)} MB",
            code="file_too_large",
            fields={field: f"must be at most {max_bytes // (1024 * 1024)} MB"},
        )
    data: bytes = await upload.read(max_bytes + 1)  # type: ignore[attr-defined]
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"{field}: the file is larger than {max_bytes // (1024 * 1024)} MB",
            code="file_too_large",
            fields={field: f"must be at most {max_bytes // (1024 * 1024)} MB"},
        )
    return data
