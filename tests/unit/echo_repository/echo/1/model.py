import json
import time

import triton_python_backend_utils as pb_utils

import paddle_python  # noqa: F401  (proves the stub imports the project's virtual environment)


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            # A request parameter ``delay_s`` keeps it inside Triton that long: the front-door
            # tests use it for requests that are in flight when the server stops.
            time.sleep(float(json.loads(request.parameters() or "{}").get("delay_s", 0)))
            x = pb_utils.get_input_tensor_by_name(request, "x").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("y", x * 2)]))
        return responses
