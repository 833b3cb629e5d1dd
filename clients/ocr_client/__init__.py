"""Calling the OCR service: ``OcrClient`` over HTTP or gRPC, and the ``ocr-client`` command."""

from .client import Line, OcrClient, OcrClientError, Page, ServerError, UnreachableError

__all__ = ["Line", "OcrClient", "OcrClientError", "Page", "ServerError", "UnreachableError"]
