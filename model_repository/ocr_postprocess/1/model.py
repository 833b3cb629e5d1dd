"""ocr_postprocess: DB boxes and crops, then text_cls and text_rec through BLS."""

import asyncio

from paddle_python import metrics, triton
from paddle_python.classification import ClsOptions
from paddle_python.detection import DbOptions
from paddle_python.model_files import read_described
from paddle_python.options import with_request
from paddle_python.pipeline import BlsOptions, read_text
from paddle_python.recognition import RecOptions


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        self.metrics = metrics.setup(self.name)
        self.models, self.db, self.cls, self.rec, self.bls = read_described(
            triton.model_config(args), triton.repository_root(args),
            DbOptions, ClsOptions, RecOptions, BlsOptions)
        self.in_flight = asyncio.Semaphore(self.bls.bls_max_in_flight)
        self.answering = triton.Answering(self.name, self._read, self.bls.images_in_flight)

    async def execute(self, requests):
        # Start each image and return: its response goes out through its request's sender
        # when it is read, so the instance takes the next images while these wait for
        # text_rec (at most images_in_flight at once; the rest wait in Triton's queue).
        await self.answering.start(requests)
        return None

    async def _read(self, request):
        image = triton.input_array(request, "image_bgr")[0]
        prob = triton.input_array(request, "det_prob")[0]
        det_shape = triton.input_array(request, "det_shape")[0]
        db, cls, rec = with_request(triton.request_parameters(request),
                                    self.db, self.cls, self.rec)
        result = await read_text(image, prob, det_shape, db, cls, rec,
                                 self._classify, self._recognize)
        self.metrics.lines(len(result.texts))
        self.metrics.turned(result.turned)
        return {
            "texts": triton.strings(result.texts)[None],
            "scores": result.scores[None],
            "boxes": result.boxes[None],
            "words": triton.strings(result.words)[None],
            "word_boxes": result.word_boxes[None],
            "word_lines": result.word_lines[None],
        }

    async def _classify(self, batch):
        out = await triton.infer(self.models.cls_model, {"x": batch}, ["angle", "score"],
                                 self.bls.cls_bls_max_batch, self.in_flight)
        return out["angle"].reshape(-1), out["score"].reshape(-1)

    async def _recognize(self, batch):
        out = await triton.infer(self.models.rec_model, {"x": batch}, ["text", "score", "steps"],
                                 self.bls.bls_max_batch, self.in_flight)
        return ([t.decode("utf-8") for t in out["text"].reshape(-1)], out["score"].reshape(-1),
                out["steps"])

    def finalize(self):
        pass
