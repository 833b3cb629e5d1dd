"""text_det: PP-OCR detection on Paddle Inference; returns the text probability map."""

import functools

from paddle_python import detection, metrics, triton
from paddle_python.detection import DetNormalize
from paddle_python.model_files import read_described
from paddle_python.predictor import PredictorOptions


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        metrics.setup(self.name)
        _, self.options, norm = read_described(
            triton.model_config(args), triton.repository_root(args), PredictorOptions,
            DetNormalize)
        self.normalize = functools.partial(detection.normalize, opts=norm)
        self.predictor = triton.instance_predictor(args, self.options)

    def execute(self, requests):
        return triton.predictor_responses(self.name, requests, "x", self.predictor,
                                          self._outputs, check=detection.check_input,
                                          prepare=self.normalize)

    @staticmethod
    def _outputs(prob):
        return {"prob": prob}

    def finalize(self):
        self.predictor = None
