"""ocr_preprocess: encoded image bytes -> detector input, its sizing, and the decoded image."""


from paddle_python import detection, metrics, triton
from paddle_python.detection import DetNormalize, DetResize
from paddle_python.errors import InputError
from paddle_python.imaging import ImageLimits, decode_image
from paddle_python.model_files import read_described
from paddle_python.options import with_request


class TritonPythonModel:
    def initialize(self, args):
        self.name = args["model_name"]
        metrics.setup(self.name)
        _, self.limits, self.resize, self.norm = read_described(
            triton.model_config(args), triton.repository_root(args), ImageLimits, DetResize,
            DetNormalize)
        detection.check_resize(self.resize)

    def execute(self, requests):
        return [triton.respond(self.name, request, self._preprocess) for request in requests]

    def _preprocess(self, request):
        data = triton.input_array(request, "image")
        if data.shape[0] != 1:
            raise InputError(f"'image' holds {data.shape[0]} images; send one image per request",
                             "batch")
        (resize,) = with_request(triton.request_parameters(request), self.resize)
        detection.check_resize(resize)
        with metrics.stage("decode"):
            image = decode_image(data[0], self.limits)
        with metrics.stage("resize"):
            tensor, det_shape = detection.preprocess(image, resize, self.norm)
        return {"det_input": tensor[None], "det_shape": det_shape[None], "image_bgr": image[None]}

    def finalize(self):
        pass
