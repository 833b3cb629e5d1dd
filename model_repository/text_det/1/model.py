"""text_det: PP-OCR detection on Paddle Inference; returns the text probability map."""

from paddle_python import detection, metrics, triton
from paddle_python.options import read_options
from paddle_python.predictor import PredictorOptions


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        metrics.setup(self.name)
        (self.options,) = read_options(triton.model_config(args), PredictorOptions)
        self.predictor = triton.instance_predictor(args, self.options)

    def execute(self, requests):
        return triton.predictor_responses(self.name, requests, "x", self.predictor,
                                          self._outputs,
                                          check=detection.check_input)

    @staticmethod
    def _outputs(prob):
        return {"prob": prob}

    def finalize(self):
        self.predictor = None
