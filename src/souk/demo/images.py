"""Pictures for the demo, drawn with Pillow: product images (a silhouette of the department's kind of
thing in the product's colour, a pattern, the product's initials and its name), store logos and the
PDF documents organisations upload for verification.

Files use the same layout as ``souk.kit.uploads.MediaStorage``: ``<subdir>/<ab>/<name>.jpg`` plus a
``_t.jpg`` thumbnail under ``uploads/public`` for images, and ``uploads/private`` for documents. Names are
derived from a key, so building the demo twice writes the same files.
"""

from __future__ import annotations

import hashlib
import io
import math
import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from souk.kit.uploads import THUMB_SIDE, StoredDocument, StoredImage

SIDE = 800
# letters that NFKD does not split into a base letter and an accent
_NO_DECOMPOSITION = str.maketrans(
    {"ı": "i", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss"}
)
Rgb = tuple[int, int, int]


def file_name(key: str) -> str:
    return hashlib.sha256(f"souk-demo:{key}".encode()).hexdigest()[:24]


def _relative(subdir: str, key: str, ext: str) -> str:
    name = file_name(key)
    return f"{subdir}/{name[:2]}/{name}.{ext}"


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=1)
def _gradient() -> Image.Image:
    return Image.linear_gradient("L").resize((200, 200)).rotate(45, expand=False, fillcolor=128)


def _mix(colour: Rgb, other: Rgb, amount: float) -> Rgb:
    r, g, b = (round(c * (1 - amount) + o * amount) for c, o in zip(colour, other, strict=True))
    return (r, g, b)


def _ink_for(colour: Rgb) -> Rgb:
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (34, 34, 38) if luminance > 150 else (255, 255, 255)


def plain(text: str) -> str:
    """``text`` without accents (the built-in font has no accented glyphs): "Crème" -> "Creme"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSITION))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def initials(text: str, letters: int = 2) -> str:
    words = [w for w in plain(text).replace("-", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:letters]).upper() or "S"


def _background(colour: Rgb, variant: int) -> Image.Image:
    light = _mix(colour, (255, 255, 255), 0.86)
    lighter = _mix(colour, (255, 255, 255), 0.95)
    small = ImageOps.colorize(_gradient(), black=lighter, white=light)
    if variant % 2:
        small = small.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return small.resize((SIDE, SIDE), Image.Resampling.BILINEAR)


def _pattern(draw: ImageDraw.ImageDraw, colour: Rgb, variant: int) -> None:
    ink = _mix(colour, (255, 255, 255), 0.72)
    if variant % 2 == 0:
        for x in range(20, SIDE, 48):
            for y in range(20, 680, 48):
                draw.ellipse((x, y, x + 7, y + 7), fill=ink)
    else:
        for offset in range(-SIDE, SIDE, 56):
            draw.line((offset, 0, offset + 680, 680), fill=ink, width=6)


def _shape(draw: ImageDraw.ImageDraw, shape: str, colour: Rgb) -> tuple[int, int]:
    """Draw the silhouette; returns where the initials go."""
    dark = _mix(colour, (0, 0, 0), 0.25)
    light = _mix(colour, (255, 255, 255), 0.3)
    if shape == "device":
        draw.rounded_rectangle((250, 110, 550, 630), radius=44, fill=dark)
        draw.rounded_rectangle((270, 150, 530, 570), radius=18, fill=colour)
        draw.ellipse((384, 588, 416, 620), fill=light)
        return 400, 360
    if shape == "mug":
        draw.ellipse((470, 300, 640, 510), outline=dark, width=38)
        draw.rounded_rectangle((200, 230, 520, 610), radius=36, fill=colour)
        draw.rectangle((200, 230, 520, 270), fill=dark)
        for x in (290, 360, 430):
            draw.arc((x - 20, 120, x + 20, 220), start=100, end=260, fill=dark, width=8)
        return 360, 440
    if shape == "shirt":
        draw.polygon(
            [
                (290, 150),
                (360, 130),
                (400, 175),
                (440, 130),
                (510, 150),
                (630, 270),
                (570, 340),
                (525, 300),
                (525, 630),
                (275, 630),
                (275, 300),
                (230, 340),
                (170, 270),
            ],
            fill=colour,
            outline=dark,
            width=6,
        )
        return 400, 420
    if shape == "bottle":
        draw.rounded_rectangle((345, 110, 455, 190), radius=12, fill=dark)
        draw.rectangle((372, 190, 428, 250), fill=light)
        draw.rounded_rectangle((260, 240, 540, 640), radius=60, fill=colour)
        draw.rounded_rectangle((290, 380, 510, 520), radius=16, fill=light)
        return 400, 450
    if shape == "ball":
        draw.ellipse((200, 140, 600, 540), fill=colour, outline=dark, width=8)
        draw.arc((120, 140, 400, 540), start=-60, end=60, fill=dark, width=8)
        draw.arc((400, 140, 680, 540), start=120, end=240, fill=dark, width=8)
        draw.line((200, 340, 600, 340), fill=dark, width=8)
        return 400, 340
    if shape == "blocks":
        draw.rectangle((210, 420, 395, 605), fill=colour, outline=dark, width=6)
        draw.rectangle((405, 420, 590, 605), fill=light, outline=dark, width=6)
        draw.rectangle((307, 225, 492, 410), fill=dark, outline=dark, width=6)
        return 400, 318
    if shape == "gear":
        points = []
        for i in range(40):
            angle = math.pi * 2 * i / 40
            radius = 260 if (i // 2) % 2 == 0 else 205
            points.append((400 + radius * math.cos(angle), 370 + radius * math.sin(angle)))
        draw.polygon(points, fill=colour, outline=dark)
        draw.ellipse((310, 280, 490, 460), fill=_mix(colour, (255, 255, 255), 0.8))
        return 400, 370
    if shape == "jar":
        draw.rounded_rectangle((285, 140, 515, 210), radius=14, fill=dark)
        draw.rounded_rectangle((250, 205, 550, 630), radius=64, fill=colour)
        draw.rectangle((250, 340, 550, 500), fill=(246, 238, 220))
        return 400, 420
    # car
    draw.polygon([(250, 340), (330, 235), (510, 235), (580, 340)], fill=dark)
    draw.polygon([(290, 330), (345, 262), (410, 262), (410, 330)], fill=light)
    draw.polygon([(430, 330), (430, 262), (495, 262), (540, 330)], fill=light)
    draw.rounded_rectangle((140, 330, 660, 500), radius=46, fill=colour)
    for cx in (265, 535):
        draw.ellipse((cx - 62, 440, cx + 62, 564), fill=(40, 40, 44))
        draw.ellipse((cx - 26, 476, cx + 26, 528), fill=(190, 190, 196))
    return 400, 410


def product_picture(shape: str, colour: Rgb, name: str, variant: int) -> Image.Image:
    image = _background(colour, variant)
    draw = ImageDraw.Draw(image)
    _pattern(draw, colour, variant)
    x, y = _shape(draw, shape, colour)
    mark = initials(name)
    spot = colour if shape not in ("jar",) else (246, 238, 220)
    draw.text((x, y), mark, font=_font(120), anchor="mm", fill=_ink_for(spot))
    draw.rectangle((0, 680, SIDE, SIDE), fill=(255, 255, 255))
    draw.text((SIDE // 2, 740), plain(name), font=_font(46), anchor="mm", fill=(40, 40, 44))
    return image


def logo_picture(name: str, colour: Rgb) -> Image.Image:
    image = Image.new("RGB", (THUMB_SIDE, THUMB_SIDE), _mix(colour, (255, 255, 255), 0.88))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, THUMB_SIDE - 40, THUMB_SIDE - 40), fill=colour)
    draw.text(
        (THUMB_SIDE // 2, THUMB_SIDE // 2),
        initials(name),
        font=_font(130),
        anchor="mm",
        fill=_ink_for(colour),
    )
    return image


def write_image(public_root: Path, subdir: str, key: str, image: Image.Image) -> StoredImage:
    """Store ``image`` and its square thumbnail, as ``MediaStorage.save_image`` would."""
    path = _relative(subdir, key, "jpg")
    thumb_path = path.rsplit(".", 1)[0] + "_t.jpg"
    main = io.BytesIO()
    image.save(main, "JPEG", quality=85)
    if image.size == (THUMB_SIDE * 2, THUMB_SIDE * 2):
        thumb = image.reduce(2)
    else:
        thumb = ImageOps.fit(image, (THUMB_SIDE, THUMB_SIDE))
    thumb_bytes = io.BytesIO()
    thumb.save(thumb_bytes, "JPEG", quality=80)
    target = public_root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(main.getvalue())
    (public_root / thumb_path).write_bytes(thumb_bytes.getvalue())
    return StoredImage(path, thumb_path, image.width, image.height, "image/jpeg", len(main.getvalue()))


def write_document(private_root: Path, key: str, title: str, lines: list[str]) -> StoredDocument:
    """A one-page PDF such as a business licence or a brand authorisation letter."""
    page = Image.new("RGB", (620, 877), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    draw.rectangle((30, 30, 590, 847), outline=(120, 120, 130), width=3)
    draw.text((310, 100), plain(title), font=_font(30), anchor="mm", fill=(20, 20, 24))
    y = 180
    for line in lines:
        draw.text((70, y), plain(line), font=_font(18), fill=(40, 40, 44))
        y += 34
    draw.ellipse((400, 640, 540, 780), outline=(200, 40, 44), width=6)
    draw.text((470, 710), "SEAL", font=_font(26), anchor="mm", fill=(200, 40, 44))
    data = io.BytesIO()
    page.save(data, "PDF", resolution=75.0)
    path = _relative("documents", key, "pdf")
    target = private_root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.getvalue())
    filename = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-") + ".pdf"
    return StoredDocument(path, "application/pdf", len(data.getvalue()), filename)
