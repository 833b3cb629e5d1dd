"""text_rec: PP-OCRv4 recognition on Paddle Inference with CTC decoding to text."""

from paddle_python import recognition, triton
from paddle_python.options import read_options
from paddle_python.predictor import Predictor, PredictorOptions, ignore_termination_signals
from paddle_python.recognition import CtcOptions


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        self.options, ctc = read_options(triton.model_config(args), PredictorOptions, CtcOptions)
        version_dir = triton.version_dir(args)
        self.decoder = recognition.CtcDecoder(recognition.load_dictionary(version_dir / ctc.dictionary))
        self.predictor = Predictor(version_dir, self.options, triton.instance_device(args))
        ignore_termination_signals()

    def execute(self, requests):
        return triton.predictor_responses(self.name, requests, "x", self.predictor,
                                          self.options.batch_sizes, self._outputs)

    def _outputs(self, probs):
        texts, scores = self.decoder(probs)
        return {"text": triton.strings(texts)[:, None], "score": scores[:, None]}

    def finalize(self):
        self.predictor = None
