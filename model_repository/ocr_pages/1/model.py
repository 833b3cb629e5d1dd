"""ocr_pages: OCR every page of a document by calling `ocr` through BLS, pages concurrently."""

import asyncio

import numpy as np

from paddle_python import documents, metrics, triton
from paddle_python.documents import DocumentOptions
from paddle_python.options import read_options


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        metrics.setup(self.name)
        (self.options,) = read_options(triton.model_config(args), DocumentOptions)

    async def execute(self, requests):
        return await asyncio.gather(
            *(triton.respond_async(self.name, request, self._read) for request in requests)
        )

    async def _read(self, request):
        pages = triton.input_array(request, "pages")[0]
        documents.check_pages(len(pages), self.options)
        lines = await asyncio.gather(*(self._page(i, page) for i, page in enumerate(pages)))
        page_texts, text = documents.document_text(lines)
        return {
            "text": triton.strings([text])[None],
            "page_texts": triton.strings(page_texts)[None],
            "line_counts": np.array([[len(page) for page in lines]], dtype=np.int32),
        }

    async def _page(self, index, data):
        image = np.frombuffer(data, dtype=np.uint8)[None]
        try:
            out = await triton.infer(self.options.ocr_model, {"image": image}, ["texts"], 1)
        except triton.CalleeError as exc:
            raise triton.CalleeError(f"page {index}: {exc}", exc.code) from None
        return [t.decode("utf-8") for t in out["texts"].reshape(-1)]

    def finalize(self):
        pass
