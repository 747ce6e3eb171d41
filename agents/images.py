"""Frames to images for model APIs: JPEG bytes, base64 data URLs and chat image parts.

Every API agent sends sampled video frames the same way: each ``uint8 (H, W, 3)`` RGB frame is
encoded once as a JPEG (fixed quality, no metadata, so the bytes are deterministic for the same
frame) and wrapped as ``data:image/jpeg;base64,...``. :func:`frames_digest` hashes the raw
frames (shape and bytes), so caches can key on what the model sees without encoding first.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import numpy as np

from visualact_env.frames import frame_array

DEFAULT_JPEG_QUALITY = 90
DATA_URL_PREFIX = "data:image/jpeg;base64,"
IMAGE_DETAILS = ("auto", "low", "high")


def frame_to_jpeg(frame: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """Encode one ``uint8 (H, W, 3)`` RGB frame as JPEG bytes."""
    from PIL import Image

    arr = frame_array(frame)[0]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def jpeg_data_url(jpeg: bytes) -> str:
    """``data:image/jpeg;base64,...`` for JPEG bytes."""
    return DATA_URL_PREFIX + base64.b64encode(jpeg).decode("ascii")


def frames_to_data_urls(frames: Any, quality: int = DEFAULT_JPEG_QUALITY) -> list[str]:
    """One JPEG data URL per frame, in order."""
    arr = frame_array(frames)
    return [jpeg_data_url(frame_to_jpeg(f, quality)) for f in arr]


def decode_data_url(url: str) -> np.ndarray:
    """Decode a JPEG data URL back to a ``uint8 (H, W, 3)`` array (used by tests and servers)."""
    from PIL import Image

    if not url.startswith(DATA_URL_PREFIX):
        raise ValueError(f"not a base64 JPEG data URL: {url[:40]!r}")
    data = base64.b64decode(url[len(DATA_URL_PREFIX) :], validate=True)
    with Image.open(io.BytesIO(data)) as img:
        if img.format != "JPEG":
            raise ValueError(f"data URL holds {img.format}, not JPEG")
        return np.asarray(img.convert("RGB"))


def image_parts(
    frames: Any, detail: str | None = "auto", quality: int = DEFAULT_JPEG_QUALITY
) -> list[dict[str, Any]]:
    """OpenAI chat content parts, one ``image_url`` part per frame.

    ``detail`` is OpenAI's image detail hint (``auto``, ``low``, ``high``); ``None`` omits it
    for servers that reject unknown fields.
    """
    if detail is not None and detail not in IMAGE_DETAILS:
        raise ValueError(f"image_detail must be one of {IMAGE_DETAILS} or None, got {detail!r}")
    parts = []
    for url in frames_to_data_urls(frames, quality):
        image_url: dict[str, Any] = {"url": url}
        if detail is not None:
            image_url["detail"] = detail
        parts.append({"type": "image_url", "image_url": image_url})
    return parts


def frames_digest(frames: Any) -> str:
    """sha256 (hex) of the frames' shape and raw bytes: a cache key for what the model sees."""
    arr = np.ascontiguousarray(frame_array(frames))
    h = hashlib.sha256()
    h.update(repr(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()
