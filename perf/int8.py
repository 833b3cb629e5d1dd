"""INT8 recognition on the CPU against float32: quantise text_rec after training (Paddle's
own PostTrainingQuantization, calibrated on crops of the photos) and compare its speed and
texts with the float32 model, crop by crop.

    .venv/bin/python -m perf.int8 [--algo KL] [--calibration 64]

Recognition is about three quarters of the served CPU per image, so it is where INT8 would
pay. The quantised model has quantize/dequantize ops; oneDNN runs it with
``cpu_precision: "int8"``; OpenVINO is tried too. Calibrating on the photos that are then
read flatters the INT8 model: a model that reads them differently is not adopted.
"""

from __future__ import annotations

import os

# Paddle's post-training quantisation works on the classic program format (.pdmodel), which
# Paddle 3 loads only with the PIR API off; it must be set before Paddle is imported.
os.environ.setdefault("FLAGS_enable_pir_api", "0")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from paddle_python import detection, recognition  # noqa: E402
from paddle_python.imaging import decode_image  # noqa: E402
from paddle_python.predictor import MODEL_FILE, PARAMS_FILE, Predictor, PredictorOptions  # noqa: E402
from perf.baselines import in_process_pipeline  # noqa: E402
from perf.harness import REPOSITORY, photos  # noqa: E402

WIDTH = 320  # the width bucket most crops of the photos fall in
BATCH = 4  # crops per run, as ocr_postprocess sends them


def photo_crops() -> np.ndarray:
    """Every recognition input of width ``WIDTH`` that the pipeline cuts from the photos."""
    pipeline = in_process_pipeline()
    c = pipeline.config
    crops = []
    for path in photos():
        image = decode_image(path.read_bytes(), c.limits)
        tensor, det_shape = detection.preprocess(image, c.resize)
        boxes, _ = detection.db_boxes(pipeline.det(tensor[None])[0], det_shape, c.db)
        crops += [recognition.preprocess(detection.crop(image, box), c.rec) for box in boxes]
    return np.stack([x for x in crops if x.shape[-1] == WIDTH]).astype(np.float32)


def quantize(model_dir: Path, out: Path, calibration: np.ndarray, algo: str) -> Path:
    """text_rec with INT8 weights and activation scales, saved in ``out``."""
    import paddle
    from paddle.static.quantization import PostTrainingQuantization

    paddle.enable_static()

    def batches():
        for start in range(0, len(calibration), 8):
            yield {"x": calibration[start:start + 8]}

    ptq = PostTrainingQuantization(
        executor=paddle.static.Executor(paddle.CPUPlace()), model_dir=str(model_dir),
        model_filename=MODEL_FILE, params_filename=PARAMS_FILE, data_loader=batches,
        batch_size=8, batch_nums=(len(calibration) + 7) // 8, algo=algo,
        quantizable_op_type=["conv2d", "depthwise_conv2d", "matmul", "matmul_v2", "mul"],
        onnx_format=True)
    ptq.quantize()
    ptq.save_quantized_model(str(out), model_filename=MODEL_FILE, params_filename=PARAMS_FILE)
    return out


def ms_per_run(predictor: Predictor, batch: np.ndarray, runs: int = 20) -> float:
    predictor(batch)
    start = time.perf_counter()
    for _ in range(runs):
        predictor(batch)
    return 1000 * (time.perf_counter() - start) / runs


def texts(predictor: Predictor, crops: np.ndarray, decoder: recognition.CtcDecoder) -> list[str]:
    out: list[str] = []
    for start in range(0, len(crops), BATCH):
        out += decoder(predictor(crops[start:start + BATCH]))[0]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="KL", help="PostTrainingQuantization's algo")
    parser.add_argument("--calibration", type=int, default=64, help="calibration crops")
    args = parser.parse_args()
    crops = photo_crops()
    rec_dir = REPOSITORY / "text_rec" / "1"
    decoder = recognition.CtcDecoder(recognition.load_dictionary(rec_dir / "ppocr_keys_v1.txt"))
    quantized = quantize(rec_dir, Path(tempfile.mkdtemp(prefix="rec-int8-")),
                         crops[:args.calibration], args.algo)
    variants = {  # name -> (model directory, options); single-threaded, as served
        "openvino fp32 (served)": (rec_dir, PredictorOptions(cpu_threads=1)),
        "onednn fp32": (rec_dir, PredictorOptions(cpu_threads=1, cpu_engine="onednn")),
        "onednn int8": (quantized, PredictorOptions(cpu_threads=1, cpu_engine="onednn",
                                                    cpu_precision="int8")),
        "openvino on the int8 model": (quantized, PredictorOptions(cpu_threads=1)),
    }
    print(f"{len(crops)} crops of width {WIDTH} from {len(photos())} photos; "
          f"calibrated on {min(args.calibration, len(crops))} ({args.algo}); 1 thread")
    reference: list[str] = []
    for name, (model_dir, options) in variants.items():
        try:
            predictor = Predictor(model_dir, options)
        except Exception as exc:  # an engine that cannot take the quantised model
            print(f"{name}: fails: {str(exc).strip().splitlines()[0][:160]}")
            continue
        read = texts(predictor, crops, decoder)
        reference = reference or read
        same = sum(a == b for a, b in zip(reference, read))
        print(f"{name}: {ms_per_run(predictor, crops[:BATCH]):.1f} ms per {BATCH} x {WIDTH} "
              f"run; {same}/{len(crops)} crops read as the served model reads them", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
