import triton_python_backend_utils as pb_utils

import paddle_python  # noqa: F401  (proves the stub imports the project's virtual environment)


class TritonPythonModel:
    def execute(self, requests):
        return [
            pb_utils.InferenceResponse([pb_utils.Tensor("y", pb_utils.get_input_tensor_by_name(r, "x").as_numpy() * 2)])
            for r in requests
        ]
