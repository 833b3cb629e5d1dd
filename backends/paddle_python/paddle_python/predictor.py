"""Paddle Inference predictors configured from ``config.pbtxt`` and the Triton instance.

``config_plan`` turns options plus the instance's kind and device into the list of
``paddle.inference.Config`` calls to make. Keeping that a plain list means the GPU and
TensorRT paths can be checked on a machine without a GPU, where a CPU build of Paddle
refuses to enable them.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from .errors import InputError
from .folding import folded_copy
from .model_files import model_files

BINDINGS = "paddle.base.libpaddle"  # Paddle's C++ extension: Paddle Inference lives in it


# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
# PaddleOCR 3.x (PIR) programs allocate their activations afresh on every run. Under the
# launcher's 4 MiB mmap threshold (which keeps image-sized arrays from fragmenting the other
# processes' heaps: server.PROCESS_ENV) each of those blocks would be mapped, faulted in and
# returned on every run: PP-OCRv5 detection 2.5x and recognition 1.5-2x slower
# (perf/results/engines-2026-11-28.md). A process running a predictor keeps blocks up to
# 64 MiB in its heap instead, and the free heap its predictors' ``heap_trim_mb`` asks for.
PREDICTOR_MMAP_THRESHOLD = 64 * 2**20
_heap_trim_mb = 0  # the largest trim threshold set in this process so far


def keep_activations_in_heap(trim_mb: int) -> bool:
    """Set this process's allocator thresholds for running predictors (above), keeping up to
    ``trim_mb`` MiB of free heap (the largest any predictor of this process asked for: a
    whole pipeline in one process keeps detection's). False where the C library has no
    ``mallopt`` or refuses them (not glibc)."""
    global _heap_trim_mb
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    _heap_trim_mb = max(_heap_trim_mb, trim_mb)
    return bool(mallopt(M_MMAP_THRESHOLD, PREDICTOR_MMAP_THRESHOLD)
                and mallopt(M_TRIM_THRESHOLD, _heap_trim_mb * 2**20))


def paddle_inference() -> ModuleType:
    """Paddle's C++ bindings, loaded without ``import paddle``.

    A predictor needs only the extension module; ``import paddle`` also builds the training
    framework's Python side, about 100 MB of RSS in every Paddle stub
    (perf/results/memory-2026-11-22-openvino.md). The module is registered under its own
    name, so a later ``import paddle`` in the same process reuses it.
    """
    if BINDINGS not in sys.modules:
        package = importlib.util.find_spec("paddle")
        if package is None or not package.submodule_search_locations:
            raise ModuleNotFoundError("paddlepaddle is not installed; run `make install`")
        base = Path(package.submodule_search_locations[0]) / "base"
        candidates = (base / f"libpaddle{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES)
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise ModuleNotFoundError(f"no libpaddle extension in {base}")
        spec = importlib.util.spec_from_file_location(BINDINGS, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[BINDINGS] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[BINDINGS]
            raise
    return sys.modules[BINDINGS]


@dataclass(frozen=True)
class PredictorOptions:
    """Paddle Inference settings; each is a ``config.pbtxt`` parameter of the same name."""

    cpu_threads: int = 2
    # CPU kernels: "openvino" (Paddle Inference's OpenVINO engine), "onednn" or "native"
    # (Paddle's own). OpenVINO reads the same texts 1.3-1.8x faster here with PaddleOCR 2.x
    # programs (perf/precision.py); a PIR program runs on oneDNN either way (config_plan).
    cpu_engine: str = "openvino"
    # or "bf16", where the CPU has it (openvino and onednn); or "int8" (onednn, for a model
    # quantised with quantize/dequantize ops: perf/results/int8-2026-11-22.md)
    cpu_precision: str = "fp32"
    onednn_cache_capacity: int = 0  # 0: Paddle's default (no limit)
    # Free heap (MiB) the process keeps before giving memory back: detection's activations
    # come back every run (2 cores: 4-5% slower at 32), recognition's are small enough that
    # 32 keeps its speed in 50-70 MB less per instance (perf/results/memory-2026-11-28.md).
    heap_trim_mb: int = 128
    ir_optim: bool = True
    # Fold PP-LCNetV3's learnable affine blocks into the convolutions beside them before
    # loading (folding.py): the same outputs to float rounding, PP-OCRv5 recognition and
    # detection 17% less time per run on oneDNN (perf/results/folding-2026-11-29.md).
    fold_affine_blocks: bool = True
    memory_optim: bool = True
    gpu_memory_mb: int = 500  # initial GPU memory pool
    use_tensorrt: bool = False
    trt_precision: str = "fp16"  # fp32, fp16 or int8
    trt_workspace_mb: int = 1024
    trt_min_subgraph_size: int = 3
    trt_use_static: bool = False  # serialise engines into trt_cache_dir and reuse them
    trt_cache_dir: str = ""
    trt_min_shape: tuple[int, ...] = ()  # dynamic-shape ranges of the single input, e.g. 1,3,32,32
    trt_opt_shape: tuple[int, ...] = ()
    trt_max_shape: tuple[int, ...] = ()
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8)  # batch sizes the predictor is run with
    # At most this many columns (batch size x input width) in one run; 0: no limit. The
    # engine keeps working memory for its largest run, and on CPU batching saves little per
    # crop (PP-OCRv5 recognition: 8-9 ms per run plus ~0.055 ms per column per crop), so wide
    # inputs run in smaller batches.
    max_batch_width: int = 0
    # Heights / widths the predictor accepts (empty: any). A caller cannot make Paddle build
    # caches for shapes nobody warmed up: oneDNN keeps memory for every distinct input shape.
    input_heights: tuple[int, ...] = ()
    input_widths: tuple[int, ...] = ()

    def batch_sizes_for(self, width: int) -> tuple[int, ...]:
        """The batch sizes inputs ``width`` wide run with, largest first (1 always)."""
        limit = self.max_batch_width
        return tuple(sorted({1, *(b for b in self.batch_sizes
                                  if not limit or b * width <= limit)}, reverse=True))


@dataclass(frozen=True)
class Device:
    """Where a Triton model instance runs: ``kind`` is ``"CPU"`` or ``"GPU"``."""

    kind: str = "CPU"
    device_id: int = 0


_PRECISIONS = ("fp32", "fp16", "int8")
_CPU_ENGINES = ("openvino", "onednn", "native")


def config_plan(options: PredictorOptions, device: Device, input_name: str = "x",
                pir: bool = False) -> list[tuple[str, tuple[Any, ...]]]:
    """The ``paddle.inference.Config`` method calls for these options on this device;
    ``pir``: the program is a PIR one (``inference.json``), for which Paddle 3.2 refuses
    ``enable_memory_optim`` with every CPU engine ("Not find ... memory_optimize_pass") and
    runs oneDNN where OpenVINO is asked for."""
    plan: list[tuple[str, tuple[Any, ...]]] = []
    if device.kind == "GPU":
        plan.append(("enable_use_gpu", (options.gpu_memory_mb, device.device_id)))
        if options.use_tensorrt:
            if options.trt_precision not in _PRECISIONS:
                raise ValueError(f"trt_precision must be one of {_PRECISIONS}")
            plan.append((
                "enable_tensorrt_engine",
                (options.trt_workspace_mb << 20, max(options.batch_sizes, default=1),
                 options.trt_min_subgraph_size, options.trt_precision,
                 options.trt_use_static, options.trt_precision == "int8"),
            ))
            if options.trt_min_shape:
                plan.append((
                    "set_trt_dynamic_shape_info",
                    ({input_name: list(options.trt_min_shape)},
                     {input_name: list(options.trt_max_shape)},
                     {input_name: list(options.trt_opt_shape or options.trt_max_shape)}),
                ))
            if options.trt_cache_dir:
                plan.append(("set_optim_cache_dir", (options.trt_cache_dir,)))
    elif device.kind == "CPU":
        if options.cpu_engine not in _CPU_ENGINES:
            raise ValueError(f"cpu_engine must be one of {_CPU_ENGINES}")
        if options.cpu_precision not in ("fp32", "bf16", "int8") or (
                options.cpu_precision == "bf16" and options.cpu_engine == "native") or (
                options.cpu_precision == "int8" and options.cpu_engine != "onednn"):
            raise ValueError("cpu_precision must be fp32, bf16 with openvino or onednn, "
                             "or int8 with onednn")
        plan.append(("disable_gpu", ()))
        plan.append(("set_cpu_math_library_num_threads", (options.cpu_threads,)))
        # Paddle 3.2 has no OpenVINO path for a PIR program: asked for one, it runs the
        # program on oneDNN all the same (same passes, same speed; perf/results/engines-
        # 2026-11-28.md). The plan says what runs.
        engine = "onednn" if options.cpu_engine == "openvino" and pir else options.cpu_engine
        if engine == "openvino":
            plan.append(("enable_openvino_engine", (options.cpu_precision,)))
        elif engine == "onednn":
            plan.append(("enable_mkldnn", ()))
            if options.onednn_cache_capacity > 0:
                plan.append(("set_mkldnn_cache_capacity", (options.onednn_cache_capacity,)))
            if options.cpu_precision == "bf16":
                plan.append(("enable_mkldnn_bfloat16", ()))
            elif options.cpu_precision == "int8":
                plan.append(("enable_mkldnn_int8", ()))
    else:
        raise ValueError(f"unsupported instance kind {device.kind!r}")
    plan.append(("switch_ir_optim", (options.ir_optim,)))
    if options.memory_optim and not pir:
        plan.append(("enable_memory_optim", ()))
    plan.append(("disable_glog_info", ()))
    return plan


def build_config(model_dir: str | Path, options: PredictorOptions, device: Device,
                 cache_dir: str | Path | None = None) -> Any:
    """A ``paddle.inference.Config`` for the model in ``model_dir``; ``cache_dir`` is where
    Paddle may write what it builds (OpenVINO's compiled model), else its working directory."""
    Config = paddle_inference().AnalysisConfig  # what paddle.inference.Config names

    files = model_files(model_dir)
    config = Config(str(files.program), str(files.params))
    if cache_dir is not None:
        config.set_optim_cache_dir(str(cache_dir))
    precision = {
        "fp32": Config.Precision.Float32,
        "fp16": Config.Precision.Half,
        "bf16": Config.Precision.Bfloat16,
        "int8": Config.Precision.Int8,
    }
    for method, args in config_plan(options, device, pir=files.pir):
        if method == "enable_tensorrt_engine":
            args = (*args[:3], precision[args[3]], *args[4:])
        elif method == "enable_openvino_engine":
            args = (precision[args[0]],)
        getattr(config, method)(*args)
    return config


class Predictor:
    """One Paddle predictor over a single-input, single-output model; thread-safe."""

    def __init__(self, model_dir: str | Path, options: PredictorOptions = PredictorOptions(),
                 device: Device = Device()):
        self.options = options
        keep_activations_in_heap(options.heap_trim_mb)
        # OpenVINO writes its compiled model into Paddle's cache directory while the predictor
        # is created (by default the working directory, read-only in a container) and does
        # not read it again: a private directory, removed at once.
        # The folded copy goes there too: Paddle has read it once the predictor exists.
        with tempfile.TemporaryDirectory(prefix="paddle-predictor-") as cache:
            program_dir = self._fold(model_dir, Path(cache) / "folded")
            self._predictor = paddle_inference().create_predictor(
                build_config(program_dir, options, device, cache))
        (self.input_name,) = self._predictor.get_input_names()[:1]
        self.output_name = self._predictor.get_output_names()[0]
        self._input = self._predictor.get_input_handle(self.input_name)
        self._output = self._predictor.get_output_handle(self.output_name)
        self._lock = threading.Lock()

    def _fold(self, model_dir: str | Path, target: Path) -> Path:
        """The directory to load the program from. ``self.folding`` says what was folded;
        ``self.fold_error`` why a rewrite failed (the export then runs as it is: slower,
        same text)."""
        self.fold_error = ""
        if not self.options.fold_affine_blocks:
            self.folding = "affine blocks not folded (fold_affine_blocks: false)"
            return Path(model_dir)
        try:
            program_dir, folded = folded_copy(model_dir, target)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            self.fold_error = str(exc)
            self.folding = f"affine blocks not folded, the export runs as it is: {exc}"
            return Path(model_dir)
        self.folding = "no affine blocks to fold" if not folded.total else (
            f"folded {folded.total} affine blocks ({folded.into_convolution} into a convolution, "
            f"{folded.into_next_convolution} into the next one, {folded.into_scale} into a scale)")
        return program_dir

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch (its first dimension is the batch) and return the output."""
        with self._lock:
            self._input.reshape(list(batch.shape))
            # The binding itself: copy_from_cpu is a Python wrapper that ``import paddle`` adds.
            self._input._copy_from_cpu_bind(np.ascontiguousarray(batch, dtype=np.float32))
            self._predictor.run()
            return self._output.copy_to_cpu()


def instance_cpus(index: int, threads: int, available: Sequence[int]) -> list[int] | None:
    """The CPUs a model instance of ``threads`` threads keeps to, or None for all of them.

    OpenVINO pins each inference to the first cores of the process's CPU set, so every
    single-threaded instance on the machine would run on core 0 while the others idle
    (measured here: two ``text_rec`` instances gave the throughput of one). Instances that
    use fewer threads than there are cores are therefore spread: instance ``index`` takes
    the next ``threads`` cores after those of the instances before it.
    """
    cpus = sorted(available)
    if threads >= len(cpus):
        return None
    return [cpus[(index * threads + j) % len(cpus)] for j in range(threads)]


def check_input_shape(batch: np.ndarray, options: PredictorOptions, name: str = "x") -> None:
    """Refuse an input whose height or width is not one the model was set up for."""
    for axis, label, allowed in ((-2, "height", options.input_heights),
                                 (-1, "width", options.input_widths)):
        if allowed and batch.shape[axis] not in allowed:
            raise InputError(
                f"input {name!r} has {label} {batch.shape[axis]} (shape {list(batch.shape[1:])}); "
                f"this model takes {label}s {', '.join(map(str, allowed))}: pad to one of them",
                "bad_shape",
            )


def ignore_termination_signals() -> None:
    """Hand SIGTERM/SIGINT back to Triton after Paddle has been imported.

    Paddle installs handlers that kill the process at once; inside a Python-backend stub that
    loses in-flight requests when a process group is signalled (Ctrl-C, a container stop).
    The stub is meant to ignore these and let ``tritonserver`` shut it down in order.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
