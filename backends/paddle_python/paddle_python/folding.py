"""Fold PP-LCNetV3's learnable affine blocks into the operators beside them.

PP-OCRv5's detector and recognizer (PP-LCNetV3 backbones) follow most convolutions and
most activations with a learnable affine block, ``y = s * x + b`` with one scalar ``s`` and
one scalar ``b`` (a ``multiply`` and an ``add`` in the exported program). Paddle 3.2's oneDNN
passes fuse neither, so each block is two more passes over an activation: about a quarter
of a recognition run's operator time (perf/results/sweep-2026-11-28.md, the profile). Three
rewrites remove them, each exact up to float rounding:

1. after a convolution and its bias: the convolution's weights and bias times ``s``, plus
   ``b`` on the bias;
2. in front of an ungrouped 1x1 convolution without padding (so a constant input stays a
   constant): its weights times ``s``, ``b`` times each filter's sum on its bias;
3. anywhere else: one ``scale`` operator instead of the two.

A program is rewritten into a directory of its own, never in place, and only a PIR program
(``inference.json``) is. Rewriting needs the whole ``paddle`` package (about 100 MB of RSS
and a second or two), which a serving process does not otherwise load
(``predictor.paddle_inference``), so ``folded_copy`` runs it in a child process:
``python -m paddle_python.folding SOURCE_DIR TARGET_DIR``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .model_files import model_files

CONVOLUTIONS = ("pd_op.conv2d", "pd_op.depthwise_conv2d")
FOLD_TIMEOUT_S = 300  # a rewrite takes 1-2 s; this only stops a child that hangs


@dataclass
class Folded:
    """How many affine blocks went where (the three rewrites above)."""

    into_convolution: int = 0
    into_next_convolution: int = 0
    into_scale: int = 0

    @property
    def total(self) -> int:
        return self.into_convolution + self.into_next_convolution + self.into_scale


class _Program:
    """A loaded PIR program and the scope that holds its parameters."""

    def __init__(self, paddle: Any, source: Path):
        paddle.enable_static()
        self.paddle = paddle
        self.executor = paddle.static.Executor(paddle.CPUPlace())
        self.scope = paddle.static.global_scope()
        files = model_files(source)
        self.program, _, self.fetches = paddle.static.load_inference_model(
            str(files.program.with_suffix("")), self.executor)
        self.block = self.program.global_block()

    def parameter(self, value: Any) -> str | None:
        """The name of the parameter ``value`` is, if it is one used nowhere else."""
        op = value.get_defining_op()
        if op.name() != "builtin.parameter" or not value.has_one_use():
            return None
        return op.attrs()["parameter_name"]

    def array(self, name: str) -> np.ndarray:
        return np.array(self.scope.find_var(name).get_tensor())

    def set_array(self, name: str, value: np.ndarray) -> None:
        tensor = self.scope.find_var(name).get_tensor()
        tensor.set(value.astype(np.float32), self.paddle.CPUPlace())

    def scalar(self, value: Any) -> float | None:
        """The value of a one-element parameter, else None."""
        name = self.parameter(value)
        if name is None:
            return None
        array = self.array(name)
        return float(array.reshape(-1)[0]) if array.size == 1 else None

    def only_user(self, value: Any) -> Any | None:
        users = value.all_used_ops()
        return users[0] if len(users) == 1 else None

    def biased_convolution(self, value: Any) -> tuple[str, str] | None:
        """(weights, bias) parameter names if ``value`` is ``conv(x, W) + reshape(bias)``
        and nothing else reads the convolution's own output."""
        add = value.get_defining_op()
        if add.name() != "pd_op.add":
            return None
        conv, reshape = (add.operand_source(i).get_defining_op() for i in (0, 1))
        if conv.name() not in CONVOLUTIONS or reshape.name() != "pd_op.reshape":
            return None
        if not conv.result(0).has_one_use() or not reshape.result(0).has_one_use():
            return None
        weights = self.parameter(conv.operand_source(1))
        bias = self.parameter(reshape.operand_source(0))
        if weights is None or bias is None or conv.attrs().get("data_format", "NCHW") != "NCHW":
            return None
        if any(self.array(name).dtype != np.float32 for name in (weights, bias)):
            return None  # a float16 export keeps its blocks: rewriting would round twice
        return weights, bias

    def affine_blocks(self) -> list[tuple[Any, Any, Any, float, float]]:
        """Each ``add(multiply(s, x), b)`` with scalar parameters: (multiply, add, x, s, b)."""
        blocks = []
        for multiply in self.block.ops:
            if multiply.name() != "pd_op.multiply" or not multiply.result(0).has_one_use():
                continue
            a, b = multiply.operand_source(0), multiply.operand_source(1)
            scale, x = self.scalar(a), b
            if scale is None:
                scale, x = self.scalar(b), a
            add = self.only_user(multiply.result(0))
            if scale is None or add is None or add.name() != "pd_op.add":
                continue
            other = [add.operand_source(i) for i in (0, 1)
                     if not add.operand_source(i).is_same(multiply.result(0))]
            shift = self.scalar(other[0]) if len(other) == 1 else None
            fetched = any(add.result(0).is_same(value) for value in self.fetches)
            if shift is not None and not fetched:  # a fetched output keeps its name
                blocks.append((multiply, add, x, scale, shift))
        return blocks

    def fold(self) -> Folded:
        folded = Folded()
        for multiply, add, x, scale, shift in self.affine_blocks():
            if self._into_convolution(x, scale, shift):
                folded.into_convolution += 1
                replacement = x
            elif self._into_next_convolution(add.result(0), scale, shift):
                folded.into_next_convolution += 1
                replacement = x
            else:
                with self.paddle.static.program_guard(self.program):
                    self.paddle.pir.set_insertion_point(add)
                    replacement = self.paddle.scale(x, scale=scale, bias=shift)
                folded.into_scale += 1
            add.result(0).replace_all_uses_with(replacement)
            self.block.remove_op(add)
            self.block.remove_op(multiply)
        return folded

    def _into_convolution(self, x: Any, scale: float, shift: float) -> bool:
        found = self.biased_convolution(x) if x.has_one_use() else None
        if found is None:
            return False
        weights, bias = found
        self.set_array(weights, self.array(weights) * scale)
        self.set_array(bias, self.array(bias) * scale + shift)
        return True

    def _into_next_convolution(self, y: Any, scale: float, shift: float) -> bool:
        conv = self.only_user(y)
        if conv is None or conv.name() != "pd_op.conv2d" or not conv.operand_source(0).is_same(y):
            return False
        attrs = conv.attrs()
        if (attrs.get("groups", 1) != 1 or attrs.get("padding_algorithm") == "SAME"
                or any(attrs.get("paddings", [0]))):
            return False
        bias_add = self.only_user(conv.result(0))
        found = self.biased_convolution(bias_add.result(0)) if bias_add is not None else None
        if found is None:
            return False
        weights, bias = found
        kernel = self.array(weights)
        if kernel.shape[2:] != (1, 1):
            return False
        self.set_array(bias, self.array(bias) + shift * kernel.sum(axis=(1, 2, 3)))
        self.set_array(weights, kernel * scale)
        return True

    def save(self, target: Path) -> None:
        feeds = [op.result(0) for op in self.block.ops if op.name() == "pd_op.data"]
        self.paddle.static.save_inference_model(
            str(target / "inference"), feeds, self.fetches, self.executor, program=self.program)


def fold_program(source: str | Path, target: str | Path) -> Folded:
    """Rewrite the PIR program in ``source`` into ``target`` (created) with its affine blocks
    folded; ``target`` stays empty when there are none."""
    import paddle  # the framework: see the module docstring

    Path(target).mkdir(parents=True, exist_ok=True)
    program = _Program(paddle, Path(source))
    folded = program.fold()
    if folded.total:
        program.save(Path(target))
    return folded


def folded_copy(source: str | Path, target: str | Path) -> tuple[Path, Folded]:
    """The directory to load ``source``'s model from: ``target`` holding a folded copy of it
    (rewritten in a child process), or ``source`` itself when it is not a PIR program or has
    nothing to fold. A failed rewrite raises ``RuntimeError`` with the child's last words."""
    source = Path(source)
    if not model_files(source).pir:
        return source, Folded()
    done = subprocess.run([sys.executable, "-m", __name__, str(source), str(target)],
                          capture_output=True, text=True, timeout=FOLD_TIMEOUT_S)
    report = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
    if not report:
        raise RuntimeError(f"folding {source} failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    folded = Folded(**json.loads(report[0]))
    return (Path(target) if folded.total else source), folded


def main(argv: list[str] | None = None) -> None:
    source, target = sys.argv[1:] if argv is None else argv
    print(json.dumps(asdict(fold_program(source, target))))


if __name__ == "__main__":
    main()
