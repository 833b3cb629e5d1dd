"""text_rec: PP-OCR recognition on Paddle Inference with CTC decoding to text (and where each
character was kept along the CTC time axis)."""

from paddle_python import metrics, recognition, triton
from paddle_python.options import read_options
from paddle_python.predictor import PredictorOptions
from paddle_python.recognition import CtcOptions


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        metrics.setup(self.name)
        config = triton.model_config(args)
        self.options, ctc = read_options(config, PredictorOptions, CtcOptions)
        recognition.check_input_height(config, triton.version_dir(args))
        self.decoder = recognition.CtcDecoder(
            recognition.ctc_classes(triton.version_dir(args), ctc))
        self.predictor = triton.instance_predictor(args, self.options)

    def execute(self, requests):
        return triton.predictor_responses(self.name, requests, "x", self.predictor,
                                          self._outputs, reduce=self.decoder.best_path)

    def _outputs(self, paths):
        texts, scores = self.decoder.decode(paths)
        return {"text": triton.strings(texts)[:, None], "score": scores[:, None],
                "steps": self.decoder.steps(paths)}

    def finalize(self):
        self.predictor = None
