"""ocr-import-onnx (importer.py): rapidocr 3.10's PP-OCRv6 small ONNX models imported as
Paddle Inference models, checked against onnxruntime on the same files."""

import importlib.util
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from paddle_python import detection, importer, recognition  # noqa: E402
from paddle_python.model_files import described_parameters, model_files  # noqa: E402
from paddle_python.onnx_ops import UnsupportedModel  # noqa: E402
from paddle_python.predictor import Predictor, PredictorOptions  # noqa: E402
from tests.support.render import render  # noqa: E402

TOLERANCE = 1e-4


def _rapidocr_model(name: str) -> Path:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("rapidocr (the PP-OCRv6 ONNX models) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "models" / name
    if not path.is_file():
        pytest.skip(f"rapidocr ships no {name}")
    return path


@pytest.fixture(scope="module")
def rec_onnx() -> Path:
    return _rapidocr_model("PP-OCRv6_rec_small.onnx")


@pytest.fixture(scope="module")
def det_onnx() -> Path:
    return _rapidocr_model("PP-OCRv6_det_small.onnx")


@pytest.fixture(scope="module")
def rec_dir(rec_onnx, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rec")
    importer.import_onnx(rec_onnx, out, "rec")
    return out


@pytest.fixture(scope="module")
def det_dir(det_onnx, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("det")
    importer.import_onnx(det_onnx, out, "det")
    return out


def _paddle_run(model_dir: Path) -> Predictor:
    """The imported model as the service runs it (oneDNN, 2 threads; nothing to fold)."""
    return Predictor(model_dir, PredictorOptions(fold_affine_blocks=False))


def _onnx_run(path: Path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda batch: session.run(None, {session.get_inputs()[0].name: batch})[0]


def _program_ops(model_dir: Path) -> Counter:
    program = json.loads((model_dir / "inference.json").read_text())["program"]
    ops = program["regions"][0]["blocks"][0]["ops"]
    return Counter(op["#"].split(".", 1)[-1] for op in ops)


def _line(text: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(render([text], size=(520, 80)), np.uint8), cv2.IMREAD_COLOR)
    return image[10:70]


def test_recognizer_matches_onnxruntime(rec_onnx, rec_dir):
    paddle_run, onnx_run = _paddle_run(rec_dir), _onnx_run(rec_onnx)
    lines = [_line("Hello Triton 2026"), _line("北京大学 春夏秋冬")]
    for width in (320, 480):
        for batch_size in (1, 2):
            batch = np.stack([recognition.resize_normalize(crop, 48, width)
                              for crop in lines[:batch_size]])
            ours, theirs = paddle_run(batch), onnx_run(batch)
            assert ours.shape == theirs.shape == (batch_size, width // 8, 18710)
            assert np.abs(ours - theirs).max() < TOLERANCE
            assert (ours.argmax(-1) == theirs.argmax(-1)).all()


def test_detector_matches_onnxruntime(det_onnx, det_dir):
    paddle_run, onnx_run = _paddle_run(det_dir), _onnx_run(det_onnx)
    page = cv2.imdecode(np.frombuffer(render(["Invoice No 4721", "上海市中山路"]), np.uint8),
                        cv2.IMREAD_COLOR)
    norm = detection.DetNormalize()
    for side in (320, 640):
        opts = detection.DetResize(det_limit_side_len=side)
        tensor, _ = detection.preprocess(page, opts, norm)
        batch = detection.normalize(tensor[None], norm)
        ours, theirs = paddle_run(batch), onnx_run(batch)
        assert ours.shape == theirs.shape == (1, 1, *batch.shape[2:])
        assert np.abs(ours - theirs).max() < TOLERANCE
        assert theirs.max() > 0.5  # it found the text


def test_orientation_classifier_matches_onnxruntime(tmp_path):
    """PaddleOCR 2.x's classifier: Constant nodes, nodes out of order, hardswish written out
    as x * clip(x + 3, 0, 6) / 6, batch norms after its convolutions."""
    path = _rapidocr_model("ch_ppocr_mobile_v2.0_cls_mobile.onnx")
    importer.import_onnx(path, tmp_path, "cls")
    ops = _program_ops(tmp_path)
    assert ops["hardswish"] == 18 and ops["clip"] == 0 and ops["batch_norm"] == 0
    paddle_run, onnx_run = _paddle_run(tmp_path), _onnx_run(path)
    crops = [_line("Hello Triton 2026"), _line("Invoice No 4721")[::-1, ::-1]]
    batch = np.stack([recognition.resize_normalize(crop, 48, 192) for crop in crops])
    ours, theirs = paddle_run(batch), onnx_run(batch)
    assert ours.shape == theirs.shape == (2, 2)
    assert np.abs(ours - theirs).max() < TOLERANCE
    assert model_files(tmp_path).description["PostProcess"]["label_list"] == ["0", "180"]


@pytest.mark.parametrize("kind", ["rec", "det"])
def test_program_has_no_copies_and_fused_activations(kind, rec_dir, det_dir):
    ops = _program_ops(rec_dir if kind == "rec" else det_dir)
    assert ops["assign"] == 0 and ops["assign_out_"] == 0
    assert ops["gelu"] == 13 and ops["erf"] == 0
    assert ops["layer_norm"] == (5 if kind == "rec" else 0)
    assert ops["sqrt"] == ops["pow"] == ops["square"] == 0  # nothing left of the LayerNorms
    # squeeze-and-excitation means as exact pools (onnx_ops._spatial_mean), no oneDNN mean
    assert ops["mean"] == 0 and ops["pool2d"] == (12 if kind == "rec" else 24)
    assert ops["conv2d"] + ops["depthwise_conv2d"] == (57 if kind == "rec" else 83)


def test_recognizer_description_holds_its_dictionary(rec_dir):
    files = model_files(rec_dir)
    assert files.pir and files.description["Global"]["model_name"] == "PP-OCRv6_rec_small"
    assert len(files.description["PostProcess"]["character_dict"]) == 18708
    classes = recognition.ctc_classes(rec_dir, recognition.CtcOptions())
    assert len(classes) == 18710 and classes[0] == "<blank>" and classes[-1] == " "
    assert described_parameters(files.description) == {"rec_height": "48"}


def test_detector_description_reads_as_paddleocr_writes_it(det_dir):
    described = described_parameters(model_files(det_dir).description)
    assert described == {"det_limit_side_len": "960", "det_limit_type": "max",
                         "det_mean": "0.485,0.456,0.406", "det_std": "0.229,0.224,0.225",
                         "det_thresh": "0.3", "det_box_thresh": "0.6",
                         "det_unclip_ratio": "1.5", "det_max_candidates": "1000"}


def _tiny_model(tmp_path: Path, op_type: str) -> Path:
    from onnx import TensorProto, helper

    bias = helper.make_tensor("b", TensorProto.FLOAT, [1, 3, 1, 1], [0.5, -1.0, 2.0])
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Identity", ["r"], ["i"]),
         helper.make_node("Add", ["i", "b"], ["a"]), helper.make_node(op_type, ["a"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 3, 8, 8])], [bias])
    path = tmp_path / f"{op_type}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(path))
    return path


def test_unknown_operator_is_refused_by_name(tmp_path):
    path = _tiny_model(tmp_path, "Hardmax")
    with pytest.raises(UnsupportedModel, match="Hardmax"):
        importer.import_onnx(path, tmp_path / "out", "cls")
    with pytest.raises(SystemExit, match="unsupported ONNX operator.*Hardmax"):
        importer.main([str(path), str(tmp_path / "out"), "--kind", "cls"])
    assert not (tmp_path / "out" / "inference.json").exists()


def test_tiny_model_imports_without_identity(tmp_path):
    path = _tiny_model(tmp_path, "Sigmoid")
    importer.main([str(path), str(tmp_path / "out"), "--kind", "cls", "--name", "tiny"])
    ops = _program_ops(tmp_path / "out")
    assert (ops["relu"], ops["add"], ops["sigmoid"], ops["assign"]) == (1, 1, 1, 0)
    x = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32)
    assert np.abs(_paddle_run(tmp_path / "out")(x) - _onnx_run(path)(x)).max() < 1e-6
    assert model_files(tmp_path / "out").description["Global"]["model_name"] == "tiny"


def test_written_out_gelu_and_layer_norm_fold_around_a_run_time_reshape(tmp_path):
    """GELU with its multiplies the other way round, LayerNorm with eps, gamma and beta,
    ``x * sigmoid(x)``, and a Reshape to a shape taken from the input at run time (two
    unknown entries: built at run time too)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    constants = {"sqrt2": np.float32(np.sqrt(2)), "one": np.float32(1), "half": np.float32(0.5),
                 "two": np.float32(2), "eps": np.float32(1e-5), "minus1": np.array([-1], np.int64),
                 "gamma": rng.normal(size=8).astype(np.float32),
                 "beta": rng.normal(size=8).astype(np.float32),
                 **{f"i{v}": np.array([v], np.int64) for v in (0, 1, 3, 4)}}
    node = helper.make_node
    nodes = [
        node("Shape", ["x"], ["s"]), node("Slice", ["s", "i0", "i1"], ["n"]),
        node("Slice", ["s", "i3", "i4"], ["w"]), node("Concat", ["n", "w", "minus1"], ["t"], axis=0),
        node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]), node("Reshape", ["xt", "t"], ["h"]),
        node("Div", ["h", "sqrt2"], ["d"]), node("Erf", ["d"], ["e"]),
        node("Add", ["e", "one"], ["a"]), node("Mul", ["a", "half"], ["m1"]),
        node("Mul", ["h", "m1"], ["g"]),
        node("ReduceMean", ["g"], ["mu"], axes=[-1]), node("Sub", ["g", "mu"], ["c"]),
        node("Pow", ["c", "two"], ["c2"]), node("ReduceMean", ["c2"], ["var"], axes=[-1]),
        node("Add", ["var", "eps"], ["ve"]), node("Sqrt", ["ve"], ["sd"]),
        node("Div", ["c", "sd"], ["z"]), node("Mul", ["z", "gamma"], ["zg"]),
        node("Add", ["zg", "beta"], ["ln"]), node("Identity", ["ln"], ["lni"]),
        node("Sigmoid", ["lni"], ["sg"]), node("Mul", ["lni", "sg"], ["y"])]
    graph = helper.make_graph(
        nodes, "patterns", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 4, 2, -1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, -1, 8])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()])
    path = tmp_path / "patterns.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(path))
    importer.import_onnx(path, tmp_path / "out", "cls")
    ops = _program_ops(tmp_path / "out")
    assert (ops["gelu"], ops["layer_norm"], ops["swish"]) == (1, 1, 1)
    assert ops["erf"] == ops["sqrt"] == ops["mean"] == ops["assign"] == 0
    paddle_run, onnx_run = _paddle_run(tmp_path / "out"), _onnx_run(path)
    for shape in ((1, 4, 2, 5), (3, 4, 2, 7)):
        x = rng.normal(size=shape).astype(np.float32) * 3
        ours, theirs = paddle_run(x), onnx_run(x)
        assert ours.shape == theirs.shape == (shape[0], shape[3], 8)
        assert np.abs(ours - theirs).max() < 1e-5
