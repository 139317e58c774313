"""Evidence in a dispute's log: per step (opening, a message) up to ``MAX_IMAGES`` photos and up to
``MAX_DOCUMENTS`` PDF documents (an inspection report, say).

Photos are checked by decoding them, then stored public with a thumbnail (``MediaStorage.save_image``) and kept
in ``DisputeEvent.data["images"]``. Documents are checked by their content (a real PDF, within the upload
limit: ``MediaStorage.check_pdf``), stored private (``MediaStorage.save_document``) and kept in
``DisputeEvent.data["documents"]`` as ``{filename, path, content_type, size_bytes}``; they are served only by the
routes that check who asks (``DisputeQueries.document_file``). Every file is checked before any is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from souk.errors import Invalid
from souk.kit.uploads import MediaStorage
from souk.party.schemas import UploadIn

# evidence files per step (opening, a message)
MAX_IMAGES = 3
MAX_DOCUMENTS = 3
SUBDIR = "disputes"


def check_counts(images: Sequence[bytes], documents: Sequence[UploadIn]) -> None:
    if len(images) > MAX_IMAGES:
        raise Invalid(f"Send at most {MAX_IMAGES} photos at a time.", fields={"images": "too many"})
    if len(documents) > MAX_DOCUMENTS:
        raise Invalid(
            f"Send at most {MAX_DOCUMENTS} documents at a time.",
            fields={"documents": f"at most {MAX_DOCUMENTS} PDF files"},
        )


async def store_evidence(
    images: Sequence[bytes], documents: Sequence[UploadIn], storage: MediaStorage | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check every photo and document, then store them; what the dispute log keeps of them (photos,
    documents). Nothing is stored when one is refused (422 naming ``images`` or ``documents``)."""
    check_counts(images, documents)
    if not images and not documents:
        return [], []
    if storage is None:
        raise ValueError("evidence files need the media storage")
    for data in images:
        await asyncio.to_thread(storage.decode_image, data, "images")
    for document in documents:
        storage.check_pdf(document.data, "documents")
    photos = []
    for data in images:
        i = await asyncio.to_thread(storage.save_image, data, subdir=SUBDIR, field="images")
        photos.append(
            {
                "path": i.path,
                "thumb_path": i.thumb_path,
                "width": i.width,
                "height": i.height,
                "content_type": i.content_type,
            }
        )
    stored = []
    for document in documents:
        d = await asyncio.to_thread(
            storage.save_document, document.data, document.filename, subdir=SUBDIR, field="documents"
        )
        stored.append(
            {
                "filename": d.filename,
                "path": d.path,
                "content_type": d.content_type,
                "size_bytes": d.size_bytes,
            }
        )
    return photos, stored
