"""ocr_document: a PDF, a multi-page TIFF or an image -> every page's lines, through `ocr` (BLS)."""

import asyncio
import concurrent.futures

import numpy as np

from paddle_python import documents, metrics, triton
from paddle_python.documents import DocumentOptions, DocumentResult
from paddle_python.options import read_options

LINE_OUTPUTS = ["texts", "scores", "boxes"]
WORD_OUTPUTS = ["words", "word_boxes", "word_lines"]


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        self.metrics = metrics.setup(self.name)
        (self.options,) = read_options(triton.model_config(args), DocumentOptions)
        # PDFium is not thread-safe: every document is opened, rendered and closed on this
        # one thread, which keeps the event loop free to send pages and take answers.
        self.renderer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="render")
        self.answering = triton.Answering(self.name, self._read,
                                          self.options.documents_in_flight)

    async def execute(self, requests):
        # Each document is answered through its response sender when read, so a short
        # document does not wait for a long one handed over with it.
        await self.answering.start(requests)
        return None

    async def _render(self, call, *args):
        return await asyncio.get_running_loop().run_in_executor(self.renderer, call, *args)

    async def _read(self, request):
        data = triton.input_array(request, "document")
        asked, params = documents.split_parameters(triton.request_parameters(request),
                                                   self.options)
        pages = await self._render(documents.open_document, data.tobytes(), self.options,
                                   asked.dpi)
        try:
            result = await self._pages(pages, params, asked.visualize)
        finally:
            await self._render(pages.close)
        out = result.arrays()
        return {
            "texts": triton.strings(out.pop("texts"))[None],
            "words": triton.strings(out.pop("words"))[None],
            "document_type": triton.strings(out.pop("document_type"))[None],
            "page_images": np.array(out.pop("page_images"), dtype=np.object_)[None],
            **{name: value[None] for name, value in out.items()},
        }

    async def _pages(self, pages, params, visualize):
        """Render page after page while earlier ones are read, at most pages_in_flight at once."""
        result = DocumentResult(pages.kind)
        wanted = LINE_OUTPUTS + (WORD_OUTPUTS if params.get("return_word_boxes") else [])
        window = asyncio.Semaphore(self.options.pages_in_flight)
        reads = []

        async def read(page):
            try:
                image = np.frombuffer(page.image, dtype=np.uint8)[None]
                try:
                    return page, await triton.infer(self.options.ocr_model, {"image": image},
                                                    wanted, 1, parameters=params)
                except triton.CalleeError as exc:
                    raise triton.CalleeError(f"page {page.index}: {exc}", exc.code) from None
            finally:
                window.release()

        try:
            for index in range(pages.count):
                await window.acquire()
                page = await self._render(pages.page, index)
                reads.append(asyncio.ensure_future(read(page)))
            for page, out in await asyncio.gather(*reads):
                result.add_page(page, out)
                if visualize:
                    result.page_images.append(
                        await self._render(documents.draw_page, page.image, out["boxes"][0]))
        except BaseException:
            for each in reads:
                each.cancel()
            await asyncio.gather(*reads, return_exceptions=True)
            raise
        return result

    def finalize(self):
        self.renderer.shutdown(wait=True)
