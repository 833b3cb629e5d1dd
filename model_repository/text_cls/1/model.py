"""text_cls: the 0/180-degree direction classifier on Paddle Inference."""

from paddle_python import classification, metrics, triton
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
                                          self._outputs)

    @staticmethod
    def _outputs(probs):
        angles, scores = classification.decode(probs)
        return {"angle": angles[:, None], "score": scores[:, None]}

    def finalize(self):
        self.predictor = None
