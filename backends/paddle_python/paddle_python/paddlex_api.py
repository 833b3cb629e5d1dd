"""PaddleX 3.x's OCR serving API (``POST /ocr``) as a thin translation onto ``ocr_document``.

An application written for ``paddlex --serve --pipeline OCR`` (the serving PaddleOCR's docs
recommend) talks to this server unchanged: the HTTP door hands a ``POST /ocr`` body to
``OcrApi.answer``, which reads PaddleX's request JSON, makes one ``ocr_document`` request of
it (the same models, batchers, metrics and limits as every other caller), and writes the
answer in PaddleX's response shape. What PaddleX can do and this service cannot (document
orientation and unwarping, another way of sizing images for the detector) is refused with a
message that says so, never ignored; a ``file`` that is a URL is refused too: a server that
fetches what its callers name can be made to reach any address (SSRF).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import aiohttp
import numpy as np

from .classification import ClsOptions
from .detection import DbOptions, DetResize
from .documents import DOCUMENT_OPTIONS, document_kind
from .options import REQUEST_OPTIONS, RequestOption, request_value
from .pipeline import PipelineConfig

PATH = "/ocr"
DOCUMENT_MODEL = "ocr_document"
FILE_TYPES = {0: "pdf", 1: "image"}  # PaddleX's fileType; absent: read from the bytes
URL_PREFIXES = ("http://", "https://", "ftp://", "file://")
VISUALIZE_BY_DEFAULT = True  # PaddleX's serving returns ocrImage unless told not to
SUCCESS = (0, "Success")
UNPROCESSABLE = 422  # how PaddleX answers a request it cannot use
UNREACHABLE = 502  # as the door answers when Triton is not there (restarting, say)

# PaddleX request field -> the Triton request parameter it becomes.
PARAMETERS = {
    "textDetLimitSideLen": "det_limit_side_len",
    "textDetThresh": "det_thresh",
    "textDetBoxThresh": "det_box_thresh",
    "textDetUnclipRatio": "det_unclip_ratio",
    "textRecScoreThresh": "min_score",
    "useTextlineOrientation": "use_angle_cls",
    "returnWordBox": "return_word_boxes",
    "visualize": "visualize",
}
# What PaddleX can be asked for and this service cannot do: refused when true.
NOT_AVAILABLE = {
    "useDocOrientationClassify": "document orientation classification",
    "useDocUnwarping": "document unwarping",
}


class ApiError(Exception):
    """A request answered with PaddleX's error shape: HTTP ``status``, ``errorCode`` the same."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ServedSettings:
    """The served defaults a PaddleX client reads back in ``text_det_params`` and friends."""

    resize: DetResize = DetResize()
    db: DbOptions = DbOptions()
    cls: ClsOptions = ClsOptions()
    min_score: float = 0.5

    @classmethod
    def from_repository(cls, repository: str | Path) -> "ServedSettings":
        config = PipelineConfig.from_repository(repository)  # reads configs, loads no model
        return cls(config.resize, config.db, config.cls, config.rec.min_score)


@dataclass(frozen=True)
class DocumentCall:
    """One ``ocr_document`` request made of a PaddleX request."""

    data: bytes
    parameters: dict[str, Any]
    log_id: str
    visualize: bool


def _typed(field: str, value: Any, option: RequestOption) -> Any:
    """A JSON value checked for the type PaddleX's schema gives the field, then for range."""
    kind = option.kind
    if kind is bool and not isinstance(value, bool):
        raise ApiError(UNPROCESSABLE, f"{field!r} must be true or false, not {value!r}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ApiError(UNPROCESSABLE, f"{field!r} must be an integer, not {value!r}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ApiError(UNPROCESSABLE, f"{field!r} must be a number, not {value!r}")
    try:
        return request_value(field, value, option)
    except ValueError as exc:  # InputError: out of range
        raise ApiError(UNPROCESSABLE, str(exc)) from None


def _file_bytes(payload: Mapping[str, Any]) -> bytes:
    file = payload.get("file")
    if not isinstance(file, str) or not file:
        raise ApiError(UNPROCESSABLE, "'file' is required: the file's bytes in base64")
    if file.strip().lower().startswith(URL_PREFIXES):
        raise ApiError(UNPROCESSABLE, "'file' is a URL: this service does not fetch URLs (a "
                                      "server that fetches what callers name can be made to "
                                      "reach any address); send the file's bytes in base64")
    try:
        return base64.b64decode("".join(file.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(UNPROCESSABLE, "'file' is neither base64 nor a URL") from None


def document_call(body: bytes, settings: ServedSettings) -> DocumentCall:
    """A PaddleX ``/ocr`` request body -> the ``ocr_document`` request it asks for."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(UNPROCESSABLE, f"the request body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ApiError(UNPROCESSABLE, "the request body must be a JSON object")
    log_id = payload.get("logId") or uuid.uuid4().hex
    if not isinstance(log_id, str):
        raise ApiError(UNPROCESSABLE, f"'logId' must be a string, not {log_id!r}")
    for field, what in NOT_AVAILABLE.items():
        if payload.get(field):
            raise ApiError(UNPROCESSABLE, f"{field!r}: {what} is not available in this "
                                          f"service; send false or leave it out")
    limit_type = payload.get("textDetLimitType")
    if limit_type is not None and limit_type != settings.resize.det_limit_type:
        raise ApiError(UNPROCESSABLE, f"'textDetLimitType' {limit_type!r} is not available: "
                                      f"this service sizes images by "
                                      f"{settings.resize.det_limit_type!r} (the longest side)")
    options = {**REQUEST_OPTIONS, **DOCUMENT_OPTIONS}
    parameters = {PARAMETERS[f]: _typed(f, payload[f], options[PARAMETERS[f]])
                  for f in PARAMETERS if payload.get(f) is not None}
    parameters.setdefault("visualize", VISUALIZE_BY_DEFAULT)
    data = _file_bytes(payload)
    file_type = payload.get("fileType")
    if file_type is not None:
        if file_type not in FILE_TYPES or isinstance(file_type, bool):
            raise ApiError(UNPROCESSABLE, f"'fileType' must be 0 (PDF) or 1 (image), "
                                          f"not {file_type!r}")
        is_pdf = document_kind(data) == "pdf"
        if is_pdf != (file_type == 0):
            raise ApiError(UNPROCESSABLE, f"'fileType' is {file_type} ({FILE_TYPES[file_type]}) "
                                          f"but the file is {'a PDF' if is_pdf else 'not a PDF'}")
    return DocumentCall(data, parameters, log_id, parameters["visualize"])


def _polygons(boxes: np.ndarray) -> list:
    return np.round(boxes).astype(int).tolist()


def _rectangles(boxes: np.ndarray) -> list:
    if len(boxes) == 0:
        return []
    corners = np.round(boxes).astype(int)
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1).tolist()


def _texts(array: np.ndarray) -> list[str]:
    return [t.decode("utf-8") for t in array.reshape(-1)]


def pruned_result(page: int, out: Mapping[str, np.ndarray], call: DocumentCall,
                  settings: ServedSettings) -> dict[str, Any]:
    """One page as PaddleX's ``prunedResult``. ``dt_polys`` holds the lines read (this
    service keeps no boxes whose text it dropped); PaddleX's per-line orientation angles are
    not reported."""
    lines = np.flatnonzero(out["line_pages"] == page)
    boxes = out["boxes"][lines]
    p = call.parameters
    result = {
        "model_settings": {"use_doc_preprocessor": False,
                           "use_textline_orientation": p.get("use_angle_cls",
                                                             settings.cls.use_angle_cls)},
        "text_det_params": {
            "limit_side_len": p.get("det_limit_side_len", settings.resize.det_limit_side_len),
            "limit_type": settings.resize.det_limit_type,
            "thresh": p.get("det_thresh", settings.db.det_thresh),
            "box_thresh": p.get("det_box_thresh", settings.db.det_box_thresh),
            "unclip_ratio": p.get("det_unclip_ratio", settings.db.det_unclip_ratio),
        },
        "text_type": "general",
        "text_rec_score_thresh": p.get("min_score", settings.min_score),
        "return_word_box": bool(p.get("return_word_boxes", False)),
        "rec_texts": [out["texts"][i] for i in lines],
        "rec_scores": out["scores"][lines].astype(float).tolist(),
        "rec_polys": _polygons(boxes),
        "rec_boxes": _rectangles(boxes),
        "dt_polys": _polygons(boxes),
    }
    if result["return_word_box"]:
        result["text_word"] = [[w for w, line in zip(out["words"], out["word_lines"]) if line == i]
                               for i in lines]
        result["text_word_region"] = [_polygons(out["word_boxes"][out["word_lines"] == i])
                                      for i in lines]
    return result


def data_info(kind: str, sizes: np.ndarray) -> dict[str, Any]:
    """PaddleX's ``dataInfo``: an image's size, or a PDF's or TIFF's pages."""
    pages = [{"width": int(w), "height": int(h)} for w, h in sizes]
    if kind == "image":
        return {**pages[0], "type": "image"}
    return {"numPages": len(pages), "pages": pages, "type": kind}


def success(call: DocumentCall, outputs: Mapping[str, np.ndarray],
            settings: ServedSettings) -> dict[str, Any]:
    """``ocr_document``'s outputs (batch dimension removed) as PaddleX's answer."""
    out = {**outputs, "texts": _texts(outputs["texts"]), "words": _texts(outputs["words"])}
    kind = _texts(outputs["document_type"])[0]
    images = list(outputs["page_images"].reshape(-1))
    results = [{"prunedResult": pruned_result(page, out, call, settings),
                "ocrImage": base64.b64encode(images[page]).decode("ascii") if images else None,
                "docPreprocessingImage": None, "inputImage": None}
               for page in range(len(outputs["page_sizes"]))]
    return {"logId": call.log_id, "errorCode": SUCCESS[0], "errorMsg": SUCCESS[1],
            "result": {"ocrResults": results, "dataInfo": data_info(kind, outputs["page_sizes"])}}


def failure(log_id: str, status: int, message: str) -> dict[str, Any]:
    return {"logId": log_id, "errorCode": status, "errorMsg": message}


def triton_status(status: str | None) -> int:
    """The HTTP status for a Triton error: the caller's fault is PaddleX's 422."""
    code = int(status) if status and status.isdigit() else 500
    return UNPROCESSABLE if code == 400 else code


class OcrApi:
    """``POST /ocr`` for the HTTP door: PaddleX's request in, ``ocr_document`` on Triton's
    internal HTTP port (tritonclient's asyncio client), PaddleX's answer out."""

    def __init__(self, upstream: str, settings: ServedSettings):
        self.upstream, self.settings = upstream, settings
        self._client: Any = None

    @classmethod
    def serving(cls, repository: Path, upstream: str) -> "OcrApi | None":
        """The API for a repository that serves ``ocr_document``; None for one that does not
        (``/ocr`` is then forwarded to Triton like any other path, which says 404)."""
        if not (repository / DOCUMENT_MODEL / "config.pbtxt").is_file():
            return None
        return cls(upstream, ServedSettings.from_repository(repository))

    async def answer(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer) for one request body."""
        import tritonclient.http.aio as aioclient
        from tritonclient.utils import InferenceServerException

        try:
            call = document_call(body, self.settings)
        except ApiError as exc:
            return exc.status, failure(uuid.uuid4().hex, exc.status, str(exc))
        if self._client is None:
            # No total timeout: a long document takes as long as its pages; Triton's queue
            # timeouts bound the waiting.
            self._client = aioclient.InferenceServerClient(self.upstream, conn_timeout=None)
        array = np.frombuffer(call.data, np.uint8)[None]
        tensor = aioclient.InferInput("document", list(array.shape), "UINT8")
        tensor.set_data_from_numpy(array)
        try:
            result = await self._client.infer(DOCUMENT_MODEL, [tensor],
                                              parameters=call.parameters)
        except InferenceServerException as exc:
            status = triton_status(exc.status())
            return status, failure(call.log_id, status, exc.message())
        except (OSError, asyncio.TimeoutError, aiohttp.ClientError) as exc:  # Triton is not up
            return UNREACHABLE, failure(call.log_id, UNREACHABLE,
                                        f"the inference server is not reachable: {exc}")
        names = [o["name"] for o in result.get_response()["outputs"]]
        outputs = {name: result.as_numpy(name)[0] for name in names}
        return 200, success(call, outputs, self.settings)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
