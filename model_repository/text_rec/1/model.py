"""text_rec: PP-OCRv4 recognition on Paddle Inference with CTC decoding to text."""

from paddle_python import metrics, recognition, triton
from paddle_python.options import read_options
from paddle_python.predictor import PredictorOptions
from paddle_python.recognition import CtcOptions


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        metrics.setup(self.name)
        self.options, ctc = read_options(triton.model_config(args), PredictorOptions, CtcOptions)
        dictionary = triton.version_dir(args) / ctc.dictionary
        self.decoder = recognition.CtcDecoder(recognition.load_dictionary(dictionary))
        self.predictor = triton.instance_predictor(args, self.options)

    def execute(self, requests):
        return triton.predictor_responses(self.name, requests, "x", self.predictor,
                                          self._outputs)

    def _outputs(self, probs):
        texts, scores = self.decoder(probs)
        return {"text": triton.strings(texts)[:, None], "score": scores[:, None]}

    def finalize(self):
        self.predictor = None
