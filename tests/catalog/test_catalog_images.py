from __future__ import annotations

import httpx
from catalog_support import catalog_counts, jpeg_bytes, png_bytes
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from souk.models import ProductImage


async def _product(
    session: AsyncSession, user_factory, store_factory, product_factory
) -> tuple[int, dict[str, str]]:
    owner = await user_factory()
    product = await product_factory(await store_factory(owner=owner))
    headers = await api_token_for(session, owner)
    await session.commit()
    return product.id, headers


def _files(*items: tuple[str, bytes, str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", item) for item in items]


class TestUpload:
    async def test_several_images_with_thumbnails_on_disk(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        app,
        user_factory,
        store_factory,
        product_factory,
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        storage = app.state.storage

        r = await client.post(
            f"/api/v1/products/{pid}/images",
            headers=headers,
            files=_files(("front.png", png_bytes(), "image/png"), ("side.jpg", jpeg_bytes(), "image/jpeg")),
        )

        assert r.status_code == 201, r.text
        images = r.json()
        assert [(i["position"], i["width"], i["height"], i["content_type"]) for i in images] == [
            (0, 640, 480, "image/png"),
            (1, 800, 600, "image/jpeg"),
        ]
        rows = (
            await session.scalars(
                select(ProductImage).where(ProductImage.product_id == pid).order_by(ProductImage.position)
            )
        ).all()
        for image, row in zip(images, rows, strict=True):
            assert image["url"] == f"/media/{row.path}" and image["thumb_url"] == f"/media/{row.thumb_path}"
            assert row.path.startswith("products/")
            assert storage.absolute(row.path).is_file()
            with Image.open(storage.absolute(row.thumb_path)) as thumb:
                assert (thumb.format, thumb.size) == ("JPEG", (400, 400))
        served = await client.get(images[1]["url"])
        assert served.status_code == 200 and served.content == storage.absolute(rows[1].path).read_bytes()
        product = (await client.get(f"/api/v1/products/{pid}")).json()
        assert [i["id"] for i in product["images"]] == [i["id"] for i in images]

    async def test_a_text_file_named_png_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        before = await catalog_counts(session)
        r = await client.post(
            f"/api/v1/products/{pid}/images",
            headers=headers,
            files=_files(
                ("ok.png", png_bytes(), "image/png"), ("notes.png", b"just some text\n" * 20, "image/png")
            ),
        )
        assert r.status_code == 422
        assert r.json()["fields"] == {"image": "is not a valid image file"}
        assert await catalog_counts(session) == before

    async def test_a_50_mb_upload_is_413(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        huge = png_bytes() + b"\0" * (50 * 1024 * 1024)
        r = await client.post(
            f"/api/v1/products/{pid}/images", headers=headers, files=_files(("huge.png", huge, "image/png"))
        )
        assert r.status_code == 413
        assert r.json()["error"] == "payload_too_large"  # refused before the body is read
        assert (await catalog_counts(session))["ProductImage"] == 0

    async def test_a_file_over_the_per_file_limit_is_413_file_too_large(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        app,
        user_factory,
        store_factory,
        product_factory,
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        big = png_bytes() + b"\0" * (app.state.storage.max_bytes + 1)
        r = await client.post(
            f"/api/v1/products/{pid}/images", headers=headers, files=_files(("big.png", big, "image/png"))
        )
        assert r.status_code == 413
        assert r.json()["error"] == "file_too_large" and "image" in r.json()["fields"]
        assert (await catalog_counts(session))["ProductImage"] == 0

    async def test_at_most_ten_images(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        small = png_bytes((40, 40))
        r = await client.post(
            f"/api/v1/products/{pid}/images",
            headers=headers,
            files=_files(*[(f"{n}.png", small, "image/png") for n in range(9)]),
        )
        assert r.status_code == 201 and len(r.json()) == 9
        r = await client.post(
            f"/api/v1/products/{pid}/images",
            headers=headers,
            files=_files(("a.png", small, "image/png"), ("b.png", small, "image/png")),
        )
        assert r.status_code == 422 and r.json()["error"] == "too_many_images"
        assert (await catalog_counts(session))["ProductImage"] == 9

    async def test_another_seller_cannot_upload(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        pid, _ = await _product(session, user_factory, store_factory, product_factory)
        stranger = await api_token_for(session, await user_factory())
        await session.commit()
        r = await client.post(
            f"/api/v1/products/{pid}/images",
            headers=stranger,
            files=_files(("x.png", png_bytes(), "image/png")),
        )
        assert r.status_code == 404


class TestArrange:
    async def test_make_primary_alt_text_and_delete(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        app,
        user_factory,
        store_factory,
        product_factory,
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
        uploaded = (
            await client.post(
                f"/api/v1/products/{pid}/images",
                headers=headers,
                files=_files(
                    *[(f"{n}.jpg", jpeg_bytes(colour=c), "image/jpeg") for n, c in enumerate(colours)]
                ),
            )
        ).json()
        first, second, third = (i["id"] for i in uploaded)

        r = await client.patch(
            f"/api/v1/products/{pid}/images/{third}",
            headers=headers,
            json={"position": 0, "alt": "Blue mug from the front"},
        )
        assert r.status_code == 200 and (r.json()["position"], r.json()["alt"]) == (
            0,
            "Blue mug from the front",
        )
        order = [i["id"] for i in (await client.get(f"/api/v1/products/{pid}")).json()["images"]]
        assert order == [third, first, second]

        row = await session.get(ProductImage, first)
        assert row is not None
        files = [app.state.storage.absolute(row.path), app.state.storage.absolute(row.thumb_path)]
        r = await client.delete(f"/api/v1/products/{pid}/images/{first}", headers=headers)
        assert r.status_code == 204
        assert not any(f.exists() for f in files)
        images = (await client.get(f"/api/v1/products/{pid}")).json()["images"]
        assert [(i["id"], i["position"]) for i in images] == [(third, 0), (second, 1)]
        assert (
            await client.delete(f"/api/v1/products/{pid}/images/{first}", headers=headers)
        ).status_code == 404

    async def test_bad_position_is_422(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        pid, headers = await _product(session, user_factory, store_factory, product_factory)
        image_id = (
            await client.post(
                f"/api/v1/products/{pid}/images",
                headers=headers,
                files=_files(("a.png", png_bytes(), "image/png")),
            )
        ).json()[0]["id"]
        r = await client.patch(
            f"/api/v1/products/{pid}/images/{image_id}", headers=headers, json={"position": -1}
        )
        assert r.status_code == 422 and "position" in r.json()["fields"]
