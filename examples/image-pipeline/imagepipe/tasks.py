"""Tasks of the image pipeline: decode an upload, describe it, moderate it, render thumbnails,
publish or quarantine it, and index it for search."""

from __future__ import annotations

import re
from typing import Any

from imagepipe.directory import (
    BANNED_UPLOADERS,
    BLOCKED_DIGESTS,
    FOLLOWERS,
    PUBLIC_BASE_URL,
)
from imagepipe.pgm import (
    GrayImage,
    PgmError,
    block_means,
    digest,
    encode_pgm,
    fit_within,
    parse_pgm,
    resize_nearest,
)
from selinonc.runtime import FatalTaskError, SelinonTask

DEFAULT_THUMBNAIL_SIZES = (32, 64, 128)
HASH_GRID = 8
HISTOGRAM_BUCKETS = 4
KEYWORD_STOPWORDS = frozenset({"a", "an", "and", "at", "img", "in", "of", "on", "the", "to"})


def _require_str(node_args: dict[str, Any], key: str) -> str:
    value = node_args.get(key)
    if not isinstance(value, str) or not value:
        raise FatalTaskError(f"node_args[{key!r}] must be a non-empty string, got {value!r}")
    return value


def _image_url(uploader: str, image_id: str) -> str:
    return f"{PUBLIC_BASE_URL}/{uploader}/{image_id}"


class DecodeUpload(SelinonTask):
    """Parse the uploaded PGM text. Its result becomes the flow's node_args
    (`node_args_from_first`), so later tasks see the decoded image rather than the raw upload."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        image_id = _require_str(node_args, "image_id")
        uploader = _require_str(node_args, "uploader")
        filename = _require_str(node_args, "filename")
        try:
            image = parse_pgm(_require_str(node_args, "pgm"))
        except PgmError as exc:
            # A broken upload stays broken: retrying cannot help.
            raise FatalTaskError(f"{filename}: {exc}") from exc
        sizes = node_args.get("thumbnail_sizes", list(DEFAULT_THUMBNAIL_SIZES))
        if not isinstance(sizes, list) or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise FatalTaskError(f"thumbnail_sizes must be positive integers, got {sizes!r}")
        return {
            "image_id": image_id,
            "uploader": uploader,
            "filename": filename,
            "thumbnail_sizes": sorted(set(sizes)),
            **image.to_json(),
        }


class ExtractMetadata(SelinonTask):
    """Describe the image: size, orientation, brightness, histogram and the thumbnail sizes worth
    rendering (only sizes smaller than the image's longest side: never upscale)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        image = GrayImage.from_json(node_args)
        values = [value for row in image.pixels for value in row]
        histogram = [0] * HISTOGRAM_BUCKETS
        for value in values:
            histogram[min(HISTOGRAM_BUCKETS - 1, value * HISTOGRAM_BUCKETS // image.max_value)] += 1
        if image.width == image.height:
            orientation = "square"
        else:
            orientation = "landscape" if image.width > image.height else "portrait"
        longest = max(image.width, image.height)
        return {
            "image_id": node_args["image_id"],
            "format": "pgm",
            "width": image.width,
            "height": image.height,
            "pixel_count": len(values),
            "orientation": orientation,
            # Brightness in percent of the maximum value, rounded to a whole percent.
            "mean_brightness": (200 * sum(values) // (len(values) * image.max_value) + 1) // 2,
            "histogram": histogram,
            "thumbnail_sizes": [s for s in node_args["thumbnail_sizes"] if s < longest],
        }


class ScanContent(SelinonTask):
    """Moderation: block images from banned uploaders and images whose digest is known-bad."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        image_digest = digest(GrayImage.from_json(node_args))
        reasons = []
        if node_args["uploader"] in BANNED_UPLOADERS:
            reasons.append(f"uploader {node_args['uploader']!r} is banned")
        if image_digest in BLOCKED_DIGESTS:
            reasons.append("image matches a blocked digest")
        return {
            "image_id": node_args["image_id"],
            "digest": image_digest,
            "verdict": "blocked" if reasons else "clean",
            "reasons": reasons,
        }


class ComputeAverageHash(SelinonTask):
    """A 64-bit perceptual "average hash" used to find near-duplicates. Images smaller than the
    8x8 hash grid cannot be hashed; the flow treats that failure as harmless (`fallback: true`)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        image = GrayImage.from_json(node_args)
        if image.width < HASH_GRID or image.height < HASH_GRID:
            size = f"{image.width}x{image.height}"
            raise FatalTaskError(f"{size} is smaller than the {HASH_GRID}x{HASH_GRID} hash grid")
        means = [value for row in block_means(image, HASH_GRID, HASH_GRID) for value in row]
        average = sum(means) / len(means)
        bits = "".join("1" if value > average else "0" for value in means)
        return {"image_id": node_args["image_id"], "average_hash": f"{int(bits, 2):016x}"}


class ResizeImage(SelinonTask):
    """Scale one image to fit a size x size box (runs in `render_thumbnail`, whose node_args are
    one item of the `thumbnail_jobs` foreach)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        image = GrayImage.from_json(node_args)
        width, height = fit_within(image.width, image.height, int(node_args["size"]))
        thumbnail = resize_nearest(image, width, height)
        return {"image_id": node_args["image_id"], "size": node_args["size"], **thumbnail.to_json()}


class EncodeThumbnail(SelinonTask):
    """Encode the resized image as PGM text, ready to be written to the CDN."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        resized = self.parent_task_result("ResizeImage")
        thumbnail = GrayImage.from_json(resized)
        text = encode_pgm(thumbnail, comment=f"{resized['image_id']} thumbnail {resized['size']}")
        return {
            "image_id": resized["image_id"],
            "size": resized["size"],
            "width": thumbnail.width,
            "height": thumbnail.height,
            "pgm": text,
            "bytes": len(text.encode()),
        }


class PublishImage(SelinonTask):
    """Publish a clean image: the public record with its URL, digest and thumbnail URLs."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        metadata = self.parent_task_result("ExtractMetadata")
        scan = self.parent_task_result("ScanContent")
        url = _image_url(node_args["uploader"], node_args["image_id"])
        return {
            "image_id": node_args["image_id"],
            "uploader": node_args["uploader"],
            "url": url,
            "digest": scan["digest"],
            "width": metadata["width"],
            "height": metadata["height"],
            "thumbnails": [
                {"size": size, "url": f"{url}/thumb-{size}.pgm"}
                for size in metadata["thumbnail_sizes"]
            ],
        }


class QuarantineImage(SelinonTask):
    """Keep a blocked image away from the public and queue it for a moderator."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        scan = self.parent_task_result("ScanContent")
        return {
            "image_id": node_args["image_id"],
            "uploader": node_args["uploader"],
            "digest": scan["digest"],
            "reasons": scan["reasons"],
            "review_queue": "moderation",
        }


class NotifyFollowers(SelinonTask):
    """Tell the uploader's followers about the new image. Started `nowait`: the flow does not
    wait for it, and it has no storage (its result is discarded)."""

    def run(self, node_args: dict[str, Any]) -> list[dict[str, str]]:
        published = self.parent_task_result("PublishImage")
        uploader = node_args["uploader"]
        return [
            {"to": follower, "text": f"{uploader} published a new image: {published['url']}"}
            for follower in FOLLOWERS.get(uploader, [])
        ]


class ExtractKeywords(SelinonTask):
    """Search keywords from the file name (`sunset_over_the_lake.pgm` -> sunset, over, lake)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        stem = _require_str(node_args, "filename").rsplit(".", 1)[0].lower()
        keywords: list[str] = []
        for word in re.split(r"[^a-z0-9]+", stem):
            wanted = len(word) > 1 and not word.isdigit() and word not in KEYWORD_STOPWORDS
            if wanted and word not in keywords:
                keywords.append(word)
        return {"image_id": _require_str(node_args, "image_id"), "keywords": keywords}


class UpdateSearchIndex(SelinonTask):
    """Build the search-index document of the image (stored as `search_document`)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        keywords = self.parent_task_result("ExtractKeywords")["keywords"]
        uploader = _require_str(node_args, "uploader")
        return {
            "id": _require_str(node_args, "image_id"),
            "uploader": uploader,
            "keywords": keywords,
            "url": _image_url(uploader, node_args["image_id"]),
        }


class AddSitemapEntry(SelinonTask):
    """A sitemap entry for the image page. A full `index_image` run adds it; the upload pipeline
    runs `index_image` selectively and leaves the sitemap to the nightly batch job."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        uploader = _require_str(node_args, "uploader")
        return {
            "loc": _image_url(uploader, _require_str(node_args, "image_id")),
            "changefreq": "monthly",
            "priority": "0.5",
        }
