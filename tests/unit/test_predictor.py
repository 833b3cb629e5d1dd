import subprocess
import sys

import numpy as np
import pytest

from paddle_python.model_files import served_dir
from paddle_python.predictor import (
    Device,
    Predictor,
    PredictorOptions,
    build_config,
    config_plan,
    instance_cpus,
)
from paddle_python.server import PROCESS_ENV
from paddle_python.weights import PACKS


def calls(plan):
    return {name: args for name, args in plan}


def test_cpu_plan_uses_threads_and_openvino_by_default():
    plan = calls(config_plan(PredictorOptions(cpu_threads=3), Device()))
    assert plan["disable_gpu"] == ()
    assert plan["set_cpu_math_library_num_threads"] == (3,)
    assert plan["enable_openvino_engine"] == ("fp32",)
    assert "enable_mkldnn" not in plan
    assert "enable_use_gpu" not in plan and "enable_tensorrt_engine" not in plan


def test_cpu_plan_with_onednn_keeps_its_cache_limit_and_precision():
    options = PredictorOptions(cpu_engine="onednn", onednn_cache_capacity=10, cpu_precision="bf16")
    plan = calls(config_plan(options, Device()))
    assert "enable_mkldnn" in plan and plan["set_mkldnn_cache_capacity"] == (10,)
    assert "enable_mkldnn_bfloat16" in plan and "enable_openvino_engine" not in plan
    int8 = calls(config_plan(PredictorOptions(cpu_engine="onednn", cpu_precision="int8"),
                             Device()))
    assert "enable_mkldnn_int8" in int8 and "enable_mkldnn_bfloat16" not in int8
    native = calls(config_plan(PredictorOptions(cpu_engine="native"), Device()))
    assert "enable_mkldnn" not in native and "enable_openvino_engine" not in native


def test_unknown_cpu_engine_or_precision_is_refused():
    with pytest.raises(ValueError, match="cpu_engine"):
        config_plan(PredictorOptions(cpu_engine="tvm"), Device())
    with pytest.raises(ValueError, match="cpu_precision"):
        config_plan(PredictorOptions(cpu_precision="int4"), Device())
    with pytest.raises(ValueError, match="cpu_precision"):
        config_plan(PredictorOptions(cpu_engine="native", cpu_precision="bf16"), Device())
    with pytest.raises(ValueError, match="cpu_precision"):
        config_plan(PredictorOptions(cpu_precision="int8"), Device())  # openvino: not here


def test_instances_with_fewer_threads_than_cores_are_spread_over_the_cores():
    assert instance_cpus(0, 1, {0, 1}) == [0]
    assert instance_cpus(1, 1, {0, 1}) == [1]
    assert instance_cpus(2, 1, {0, 1}) == [0]
    assert instance_cpus(1, 2, [4, 5, 6, 7]) == [6, 7]
    assert instance_cpus(0, 2, {0, 1}) is None, "an instance using every core is left alone"


def test_wide_inputs_run_in_smaller_batches_under_max_batch_width():
    options = PredictorOptions(batch_sizes=(1, 2, 4, 8), max_batch_width=2560)
    assert options.batch_sizes_for(320) == (8, 4, 2, 1)
    assert options.batch_sizes_for(640) == (4, 2, 1)
    assert options.batch_sizes_for(1280) == (2, 1)
    assert options.batch_sizes_for(4000) == (1,)  # one input always runs
    assert PredictorOptions(batch_sizes=(2, 8)).batch_sizes_for(4000) == (8, 2, 1)  # no limit


def test_gpu_plan_uses_the_instance_device():
    plan = calls(config_plan(PredictorOptions(gpu_memory_mb=256), Device("GPU", 3)))
    assert plan["enable_use_gpu"] == (256, 3)
    assert "disable_gpu" not in plan and "enable_mkldnn" not in plan


def test_tensorrt_plan_carries_precision_batch_and_dynamic_shapes():
    options = PredictorOptions(use_tensorrt=True, trt_precision="fp16", batch_sizes=(1, 8),
                               trt_min_shape=(1, 3, 48, 320), trt_opt_shape=(8, 3, 48, 320),
                               trt_max_shape=(16, 3, 48, 1280), trt_cache_dir="/cache")
    plan = calls(config_plan(options, Device("GPU", 0)))
    workspace, max_batch, min_subgraph, precision, use_static, calibrate = plan["enable_tensorrt_engine"]
    assert (max_batch, precision, calibrate) == (8, "fp16", False)
    assert workspace == 1024 << 20
    assert plan["set_trt_dynamic_shape_info"] == (
        {"x": [1, 3, 48, 320]}, {"x": [16, 3, 48, 1280]}, {"x": [8, 3, 48, 320]})
    assert plan["set_optim_cache_dir"] == ("/cache",)


def test_tensorrt_is_ignored_on_cpu_and_bad_values_are_refused():
    assert "enable_tensorrt_engine" not in calls(config_plan(PredictorOptions(use_tensorrt=True), Device()))
    with pytest.raises(ValueError, match="trt_precision"):
        config_plan(PredictorOptions(use_tensorrt=True, trt_precision="bf8"), Device("GPU", 0))
    with pytest.raises(ValueError, match="instance kind"):
        config_plan(PredictorOptions(), Device("TPU", 0))


def test_build_config_applies_the_cpu_plan(repository):
    config = build_config(served_dir(repository / "text_cls"), PredictorOptions(cpu_threads=1), Device())
    assert not config.use_gpu() and config.openvino_engine_enabled()
    assert config.cpu_math_library_num_threads() == 1
    onednn = build_config(served_dir(repository / "text_cls"),
                          PredictorOptions(cpu_threads=1, cpu_engine="onednn"), Device())
    assert onednn.mkldnn_enabled() and not onednn.openvino_engine_enabled()


def test_missing_weights_name_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="make models"):
        build_config(tmp_path, PredictorOptions(), Device())


@pytest.mark.parametrize("pack,program,classes", [
    ("ppocrv5-mobile", "inference.json", 18385),  # PaddleOCR 3.x: a PIR program
    ("ppocrv4-mobile", "inference.pdmodel", 6625),  # PaddleOCR 2.x
])
@pytest.mark.parametrize("engine", ["openvino", "onednn", "native"])
def test_real_predictors_of_both_formats_run_on_every_cpu_engine(
        repository, v4_repository, pack, program, classes, engine):
    repo = repository if pack == "ppocrv5-mobile" else v4_repository
    options = PredictorOptions(cpu_threads=1, cpu_engine=engine)
    det_dir, rec_dir = (repo / model / str(PACKS[pack][model]) for model in ("text_det", "text_rec"))
    assert (det_dir / program).is_file()
    det = Predictor(det_dir, options)
    prob = det(np.random.default_rng(0).random((1, 3, 64, 96), np.float32))
    assert prob.shape == (1, 1, 64, 96) and 0 <= prob.min() and prob.max() <= 1
    rec = Predictor(rec_dir, options)
    probs = rec(np.zeros((2, 3, 48, 320), np.float32))
    assert probs.shape[0] == 2 and probs.shape[2] == classes
    assert np.allclose(probs.sum(axis=2), 1.0, atol=1e-3)


def test_a_pir_program_is_planned_without_memory_optim():
    assert "enable_memory_optim" in calls(config_plan(PredictorOptions(), Device()))
    assert "enable_memory_optim" not in calls(config_plan(PredictorOptions(), Device(), pir=True))


def test_a_pir_program_asked_for_openvino_is_planned_on_onednn():
    # Paddle 3.2 runs a PIR program on oneDNN whatever the config asks: the plan says so.
    options = PredictorOptions(cpu_engine="openvino", cpu_precision="bf16")
    pir = calls(config_plan(options, Device(), pir=True))
    assert "enable_openvino_engine" not in pir
    assert "enable_mkldnn" in pir and "enable_mkldnn_bfloat16" in pir
    assert "set_mkldnn_cache_capacity" not in pir
    assert calls(config_plan(options, Device()))["enable_openvino_engine"] == ("bf16",)


@pytest.mark.gpu
def test_gpu_predictor_runs_on_a_gpu(repository):
    paddle = pytest.importorskip("paddle")
    if not paddle.device.is_compiled_with_cuda():
        pytest.skip("needs a GPU build of Paddle and an NVIDIA GPU (this machine has neither)")
    det = Predictor(served_dir(repository / "text_det"), PredictorOptions(), Device("GPU", 0))
    assert det(np.zeros((1, 3, 64, 96), np.float32)).shape == (1, 1, 64, 96)


def test_input_shapes_outside_the_configured_sizes_are_refused():
    from paddle_python.errors import InputError
    from paddle_python.predictor import check_input_shape

    options = PredictorOptions(input_heights=(320, 640), input_widths=(320, 640))
    check_input_shape(np.zeros((2, 3, 640, 320), np.float32), options)
    with pytest.raises(InputError, match=r"height 352 \(shape \[3, 352, 320\]\).*320, 640"):
        check_input_shape(np.zeros((1, 3, 352, 320), np.float32), options)
    with pytest.raises(InputError, match="width 1000"):
        check_input_shape(np.zeros((1, 3, 320, 1000), np.float32), options)
    check_input_shape(np.zeros((1, 3, 48, 1000), np.float32), PredictorOptions())


def test_creating_a_predictor_writes_nothing_in_the_working_directory(repository, tmp_path,
                                                                      monkeypatch):
    # OpenVINO's compiled model goes to Paddle's cache directory, by default the working one.
    monkeypatch.chdir(tmp_path)
    rec = Predictor(served_dir(repository / "text_rec"), PredictorOptions(cpu_threads=1))
    assert rec(np.zeros((1, 3, 48, 320), np.float32)).shape[0] == 1
    assert list(tmp_path.iterdir()) == []


def test_a_predictor_runs_without_importing_the_paddle_framework(repository):
    # Only Paddle's C++ extension is loaded: the framework's Python side costs ~100 MB per stub.
    code = (
        "import sys, numpy as np\n"
        "from paddle_python.predictor import Predictor, PredictorOptions\n"
        f"p = Predictor({str(served_dir(repository / 'text_det'))!r}, PredictorOptions(cpu_threads=1))\n"
        "out = p(np.zeros((1, 3, 64, 96), np.float32))\n"  # a PIR program (inference.json)
        "assert out.shape == (1, 1, 64, 96), out.shape\n"
        "assert 'paddle' not in sys.modules, 'the paddle package was imported'\n"
        "import paddle.inference\n"  # and the framework still imports afterwards
        "assert paddle.inference.Config is sys.modules['paddle.base.libpaddle'].AnalysisConfig\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# glibc's allocator statistics, seen from a process of its own (thresholds are per process).
MALLINFO = """
import ctypes
import sys
from paddle_python.predictor import keep_activations_in_heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
"""

MMAP_PROBE = MALLINFO + """
def mapped_by(size):
    before = libc.mallinfo2().hblkhd
    libc.malloc(size)
    return libc.mallinfo2().hblkhd - before

block = 16 * 2**20
print(mapped_by(block) >= block, keep_activations_in_heap(32), mapped_by(block) >= block)
"""

TRIM_PROBE = MALLINFO + """
def kept_after_free(size):
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    before = libc.mallinfo2().arena
    libc.free(block)
    return libc.mallinfo2().arena >= before

for trim_mb in map(int, sys.argv[1:]):
    keep_activations_in_heap(trim_mb)
print(kept_after_free(48 * 2**20))
"""


def probe(code: str, *args: object) -> list[str]:
    """What ``code`` prints, run in the environment the launcher gives the stubs (its 4 MiB
    mmap threshold)."""
    env = {**PROCESS_ENV, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize("asked,kept", [((32,), False), ((128,), True), ((128, 32), True)])
def test_a_predictor_process_keeps_the_free_heap_its_predictors_ask_for(asked, kept):
    """48 MiB freed at the top of the heap go back to the system above a 32 MiB trim
    threshold and stay under 128; a process holding several predictors keeps the largest."""
    assert probe(TRIM_PROBE, *asked) == [str(kept)]


def test_a_predictor_process_keeps_paddle_activations_in_its_heap():
    """Under the launcher's 4 MiB threshold a 16 MiB block gets a mapping of its own; in a
    process that runs predictors it comes from the heap (PP-OCRv5's per-run activations)."""
    assert probe(MMAP_PROBE) == ["True", "True", "False"]
