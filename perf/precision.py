"""oneDNN bfloat16 against float32 on the real crops and images: speed, and whether the
texts stay the same. A precision is adopted only if they do.

    .venv/bin/python -m perf.precision
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from paddle_python import detection, recognition
from paddle_python.pipeline import OcrPipeline
from paddle_python.predictor import MODEL_FILE, PARAMS_FILE
from perf.harness import REPOSITORY, photos


def predictor(model: str, bf16: bool, threads: int = 2):
    from paddle import inference

    directory = REPOSITORY / model / "1"
    config = inference.Config(str(directory / MODEL_FILE), str(directory / PARAMS_FILE))
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(threads)
    config.enable_mkldnn()
    config.disable_glog_info()
    if bf16:
        config.enable_mkldnn_bfloat16()
    engine = inference.create_predictor(config)
    x = engine.get_input_handle(engine.get_input_names()[0])
    y = engine.get_output_handle(engine.get_output_names()[0])

    def run(batch: np.ndarray) -> np.ndarray:
        x.reshape(list(batch.shape))
        x.copy_from_cpu(batch)
        engine.run()
        return y.copy_to_cpu()

    return run


def main() -> int:
    pipeline = OcrPipeline(REPOSITORY)
    config = pipeline.config
    det_inputs, crops = [], []
    for path in photos():
        image = cv2.imread(str(path))
        tensor, shape = detection.preprocess(image, config.resize)
        det_inputs.append(tensor[None])
        boxes, _ = detection.db_boxes(pipeline.det(tensor[None])[0], shape, config.db)
        crops += [recognition.preprocess(detection.crop(image, b), config.rec) for b in boxes]
    groups: dict[int, list[np.ndarray]] = {}
    for crop in crops:
        groups.setdefault(crop.shape[-1], []).append(crop)
    batches = [np.stack(g[i:i + 8]) for g in groups.values() for i in range(0, len(g), 8)]

    results = {}
    for precision in ("fp32", "bf16"):
        rec = predictor("text_rec", precision == "bf16")
        for batch in batches:
            rec(batch)
        start = time.perf_counter()
        texts = [t for batch in batches for t in pipeline.decoder(rec(batch))[0]]
        results[precision] = (time.perf_counter() - start, texts)
        print(f"text_rec {precision}: {1000 * results[precision][0]:.0f} ms for {len(crops)} crops")
        try:
            det = predictor("text_det", precision == "bf16")
            for tensor in det_inputs:
                det(tensor)
            start = time.perf_counter()
            maps = [det(tensor) for tensor in det_inputs]
            print(f"text_det {precision}: {1000 * (time.perf_counter() - start):.0f} ms for "
                  f"{len(det_inputs)} images")
            results[f"det-{precision}"] = maps
        except Exception as exc:  # bf16 det is known to fail in Paddle's passes
            print(f"text_det {precision}: fails: {str(exc).splitlines()[0][:160]}")
    same = sum(a == b for a, b in zip(results["fp32"][1], results["bf16"][1]))
    print(f"text_rec bf16: {same}/{len(crops)} crops read the same as fp32; "
          f"speed-up {results['fp32'][0] / results['bf16'][0]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
