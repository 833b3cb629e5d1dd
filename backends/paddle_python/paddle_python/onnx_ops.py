"""The ONNX operators ``importer`` understands, each emitted as native Paddle operators.

Every emitter takes the ``importer.Converter`` (the program being built and the values so
far) and one ``importer.Node`` and records its outputs with ``cv.set``. A value is either a
Paddle ``Value`` (a tensor of the program) or a numpy array: the model's constants, and what
the model computes from them and from tensor shapes alone (``Shape``, ``Slice``, ``Concat``
of shapes ...), which is worked out here and never reaches the program. A shape's dynamic
entries (batch, width) are ``Dim`` markers, which ``Reshape`` turns into Paddle's ``0``
(copy that dimension) or ``-1`` (infer it).

Some emitters look ahead and take the nodes after them along when these only refine their
output: a convolution takes a following bias ``Add`` or ``BatchNormalization``, a constant
``MatMul`` its bias (``linear``), ``x * sigmoid(x)`` becomes ``swish``, ``x * hardsigmoid(x)``
and ``x * clip(x + 3, 0, 6) / 6`` ``hardswish``, and the written-out GELU and LayerNorm
become ``gelu`` and ``layer_norm`` (``fused_gelu``, ``fused_layer_norm``), which Paddle's
oneDNN passes fuse further (GELU into the convolution before it).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import paddle
import paddle.nn.functional as F

SQRT2 = math.sqrt(2.0)
INT32_MAX = 2**31 - 1


class UnsupportedModel(ValueError):
    """An ONNX model (or one of its operators) this importer cannot convert."""


class Dim:
    """Dimension ``axis`` of tensor ``value``, unknown until run time."""

    def __init__(self, value: Any, axis: int):
        self.value, self.axis = value, axis

    def __repr__(self) -> str:
        return f"Dim({self.axis})"


def is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray)


def scalar(value: Any) -> float | None:
    """The number a one-element numeric constant holds, else None."""
    if is_array(value) and value.size == 1 and value.dtype != object:
        return float(value.reshape(-1)[0])
    return None


def _close(value: float | None, expected: float, tol: float = 1e-4) -> bool:
    return value is not None and abs(value - expected) <= tol * max(1.0, abs(expected))


def _other(node: Any, name: str) -> str | None:
    """The other input of a binary node one of whose inputs is ``name``."""
    a, b = node.inputs[:2]
    return b if a == name else a if b == name else None


# --- patterns ---------------------------------------------------------------------------

def fused_gelu(cv: Any, node: Any) -> bool:
    """``x / sqrt(2) -> Erf -> + 1 -> * x -> * 0.5`` (either order of the multiplies; or
    ``x * (1/sqrt(2))``) as one ``gelu``."""
    x = node.inputs[0]
    c = scalar(cv.value(node.inputs[1]))
    if not ((node.op == "Div" and _close(c, SQRT2)) or (node.op == "Mul" and _close(c, 1 / SQRT2))):
        return False
    erf = cv.only_consumer(node.outputs[0], "Erf")
    add = erf and cv.only_consumer(erf.outputs[0], "Add")
    if not add or not _close(scalar(cv.value(_other(add, erf.outputs[0]))), 1.0):
        return False
    first = cv.only_consumer(add.outputs[0], "Mul")
    second = first and cv.only_consumer(first.outputs[0], "Mul")
    if not second:
        return False
    by = _other(first, add.outputs[0]), _other(second, first.outputs[0])
    half = [scalar(cv.value(n)) if n != x else None for n in by]
    if not ((by[0] == x and _close(half[1], 0.5)) or (by[1] == x and _close(half[0], 0.5))):
        return False
    cv.set(second.outputs[0], F.gelu(cv.tensor(x)))
    cv.taken(erf, add, first, second)
    return True


def fused_layer_norm(cv: Any, node: Any) -> bool:
    """``d = x - mean(x); d / sqrt(mean(d^2) + eps) * gamma + beta`` over the last axis as one
    ``layer_norm`` (gamma and beta optional)."""
    x, axes = node.inputs[0], node.attrs.get("axes")
    rank = cv.rank(x)
    if axes is None or rank is None or [a % rank for a in axes] != [rank - 1]:
        return False
    sub = cv.only_consumer(node.outputs[0], "Sub")
    if not sub or sub.inputs[:2] != [x, node.outputs[0]]:
        return False
    users = {n.op: n for n in cv.consumers(sub.outputs[0])}
    power, div = users.get("Pow"), users.get("Div")
    if (len(cv.consumers(sub.outputs[0])) != 2 or not power or not div or sub.outputs[0] in cv.outputs
            or not _close(scalar(cv.value(power.inputs[1])), 2.0)):
        return False
    mean = cv.only_consumer(power.outputs[0], "ReduceMean")
    if not mean or [a % rank for a in mean.attrs.get("axes", [])] != [rank - 1]:
        return False
    add = cv.only_consumer(mean.outputs[0], "Add")
    eps = add and scalar(cv.value(_other(add, mean.outputs[0])))
    sqrt = eps is not None and add and cv.only_consumer(add.outputs[0], "Sqrt")
    if not sqrt or div.inputs[:2] != [sub.outputs[0], sqrt.outputs[0]]:
        return False
    out, weight, bias, nodes = div.outputs[0], None, None, [sub, power, mean, add, sqrt, div]
    known = cv.tensor(x).shape[-1]  # -1 where only the run time knows
    for op in ("Mul", "Add"):
        following = cv.only_consumer(out, op)
        constant = following and cv.value(_other(following, out))
        if (not following or not is_array(constant) or constant.ndim != 1
                or constant.size != (known if known > 0 else max(constant.size, 2))):
            break  # not a per-feature gamma / beta (a broadcast scalar stays as it is)
        if op == "Mul":
            weight = constant
        else:
            bias = constant
        out = following.outputs[0]
        nodes.append(following)
    width = next((c.size for c in (weight, bias) if c is not None), cv.tensor(x).shape[-1])
    if width is None or width < 0:
        return False
    if bias is not None and weight is None:
        weight = np.ones(width, np.float32)
    cv.set(out, F.layer_norm(cv.tensor(x), [width], cv.parameter(weight), cv.parameter(bias),
                             epsilon=float(eps)))
    cv.taken(*nodes)
    return True


def fused_hardswish(cv: Any, node: Any) -> bool:
    """``x * clip(x + 3, 0, 6) / 6`` (as PaddleOCR 2.x exports hardswish) as one
    ``hardswish``."""
    x = next((n for n in node.inputs[:2] if not is_array(cv.value(n))), None)
    if x is None or not _close(scalar(cv.value(_other(node, x))), 3.0):
        return False
    clip = cv.only_consumer(node.outputs[0], "Clip")
    if not clip or clip.inputs[0] != node.outputs[0] or _clip_range(cv, clip) != (0.0, 6.0):
        return False
    mul = cv.only_consumer(clip.outputs[0], "Mul")
    if not mul or _other(mul, clip.outputs[0]) != x:
        return False
    last = cv.only_consumer(mul.outputs[0], "Div") or cv.only_consumer(mul.outputs[0], "Mul")
    by = last and scalar(cv.value(_other(last, mul.outputs[0])))
    if not last or not _close(by, 6.0 if last.op == "Div" else 1 / 6):
        return False
    cv.set(last.outputs[0], F.hardswish(cv.tensor(x)))
    cv.taken(clip, mul, last)
    return True


def _clip_range(cv: Any, node: Any) -> tuple[float | None, float | None]:
    if "min" in node.attrs or "max" in node.attrs:  # opset < 11
        return node.attrs.get("min"), node.attrs.get("max")
    bounds = [scalar(cv.value(n)) if n else None for n in node.inputs[1:3]]
    for n, bound in zip(node.inputs[1:3], bounds):
        if n and bound is None:
            raise UnsupportedModel(f"Clip {node.name}: only constant bounds are supported")
    return tuple(bounds + [None] * (2 - len(bounds)))  # type: ignore[return-value]


def _gated(cv: Any, node: Any, make: Callable[[Any], Any]) -> bool:
    """``x * f(x)`` as ``make(x)`` when ``node`` computes ``f(x)`` for that multiply alone."""
    x = node.inputs[0]
    mul = cv.only_consumer(node.outputs[0], "Mul")
    if not mul or _other(mul, node.outputs[0]) != x:
        return False
    cv.set(mul.outputs[0], make(cv.tensor(x)))
    cv.taken(mul)
    return True


# --- emitters -----------------------------------------------------------------------------

def _pads(attrs: dict, rank: int = 2) -> Any:
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "SAME_UPPER":
        return "SAME"
    if auto == "VALID":
        return "VALID"
    if auto != "NOTSET":
        raise UnsupportedModel(f"auto_pad {auto} is not supported")
    pads = list(attrs.get("pads", [0] * 2 * rank))
    # ONNX [top, left, bottom, right] -> Paddle [top, bottom, left, right]
    return [p for i in range(rank) for p in (pads[i], pads[i + rank])]


def _take_bias(cv: Any, out: str, channels: int, weight: np.ndarray, bias: np.ndarray,
               transposed: bool = False, groups: int = 1) -> tuple[str, np.ndarray, np.ndarray]:
    """Fold a following inference ``BatchNormalization`` and bias ``Add`` of constants into
    a convolution's weight and bias."""
    norm = cv.only_consumer(out, "BatchNormalization")
    if norm and norm.inputs[0] == out and not (transposed and groups != 1):
        scale, shift, mean, var = (cv.value(n) for n in norm.inputs[1:5])
        if all(is_array(a) for a in (scale, shift, mean, var)):
            factor = (scale / np.sqrt(var + norm.attrs.get("epsilon", 1e-5))).astype(np.float32)
            shape = (1, -1, 1, 1) if transposed else (-1, 1, 1, 1)
            weight = (weight * factor.reshape(shape)).astype(np.float32)
            bias = ((bias - mean) * factor + shift).astype(np.float32)
            cv.taken(norm)
            out = norm.outputs[0]
    add = cv.only_consumer(out, "Add")
    constant = add and cv.value(_other(add, out))
    if (add and is_array(constant) and constant.dtype == np.float32 and constant.size == channels
            and constant.ndim in (3, 4) and constant.shape[-3] == channels):  # [1,] C, 1, 1
        bias = (bias + constant.reshape(-1)).astype(np.float32)
        cv.taken(add)
        out = add.outputs[0]
    return out, weight, bias


def conv(cv: Any, node: Any) -> None:
    weight = cv.constant(node, 1)
    if weight.ndim != 4:
        raise UnsupportedModel(f"Conv {node.name}: only 2-D convolutions are supported")
    bias = (cv.constant(node, 2) if len(node.inputs) > 2 and node.inputs[2]
            else np.zeros(weight.shape[0], np.float32))
    out, weight, bias = _take_bias(cv, node.outputs[0], weight.shape[0], weight, bias)
    a = node.attrs
    cv.set(out, F.conv2d(cv.tensor(node.inputs[0]), cv.parameter(weight), cv.parameter(bias),
                         stride=a.get("strides", 1), padding=_pads(a),
                         dilation=a.get("dilations", 1), groups=a.get("group", 1)))


def conv_transpose(cv: Any, node: Any) -> None:
    weight = cv.constant(node, 1)
    a = node.attrs
    if weight.ndim != 4 or "output_shape" in a or a.get("auto_pad", "NOTSET") != "NOTSET":
        raise UnsupportedModel(f"ConvTranspose {node.name}: only 2-D, explicit padding")
    groups = a.get("group", 1)
    channels = weight.shape[1] * groups
    bias = (cv.constant(node, 2) if len(node.inputs) > 2 and node.inputs[2]
            else np.zeros(channels, np.float32))
    out, weight, bias = _take_bias(cv, node.outputs[0], channels, weight, bias, True, groups)
    cv.set(out, F.conv2d_transpose(
        cv.tensor(node.inputs[0]), cv.parameter(weight), cv.parameter(bias),
        stride=a.get("strides", 1), padding=_pads(a), output_padding=a.get("output_padding", 0),
        dilation=a.get("dilations", 1), groups=groups))


def batch_norm(cv: Any, node: Any) -> None:
    scale, shift, mean, var = (cv.parameter(cv.constant(node, i)) for i in range(1, 5))
    cv.set(node.outputs[0], F.batch_norm(cv.tensor(node.inputs[0]), mean, var, scale, shift,
                                         training=False, epsilon=node.attrs.get("epsilon", 1e-5)))


def matmul(cv: Any, node: Any) -> None:
    a, b = (cv.value(n) for n in node.inputs[:2])
    if is_array(a) and is_array(b):
        cv.set(node.outputs[0], np.matmul(a, b))
        return
    if is_array(b) and b.ndim == 2:
        add = cv.only_consumer(node.outputs[0], "Add")
        bias = add and cv.value(_other(add, node.outputs[0]))
        if add and is_array(bias) and bias.shape == (b.shape[1],):
            cv.taken(add)
            cv.set(add.outputs[0], F.linear(cv.tensor(a), cv.parameter(b), cv.parameter(bias)))
            return
    cv.set(node.outputs[0], paddle.matmul(cv.tensor(a), cv.tensor(b)))


_NUMPY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
_PADDLE = {"Add": paddle.add, "Sub": paddle.subtract, "Mul": paddle.multiply,
           "Div": paddle.divide}


def binary(cv: Any, node: Any) -> None:
    if (node.op in ("Div", "Mul") and fused_gelu(cv, node)) or (
            node.op == "Add" and fused_hardswish(cv, node)):
        return
    name_a, name_b = node.inputs[:2]
    a, b = cv.value(name_a), cv.value(name_b)
    op, out = node.op, node.outputs[0]
    if is_array(a) and is_array(b):
        if op == "Div" and a.dtype.kind in "iu" and b.dtype.kind in "iu":
            cv.set(out, a // b)
        else:
            cv.set(out, _NUMPY[op](a, b))
        return
    sa, sb = scalar(a), scalar(b)
    if sb is not None and (is_array(b) and b.ndim <= max(cv.rank(name_a) or 0, 1)):
        if op == "Mul":
            add = cv.only_consumer(out, "Add")
            shift = add and scalar(cv.value(_other(add, out)))
            if shift is not None:  # s * x + b: one scale
                cv.taken(add)
                cv.set(add.outputs[0], paddle.scale(a, scale=sb, bias=shift))
                return
        factor, shift = {"Add": (1.0, sb), "Sub": (1.0, -sb), "Mul": (sb, 0.0),
                         "Div": (1.0 / sb, 0.0)}[op]
        cv.set(out, paddle.scale(a, scale=factor, bias=shift))
        return
    if sa is not None and op in ("Add", "Mul", "Sub") and (cv.rank(name_b) or 0) >= a.ndim:
        factor, shift = {"Add": (1.0, sa), "Mul": (sa, 0.0), "Sub": (-1.0, sa)}[op]
        cv.set(out, paddle.scale(b, scale=factor, bias=shift))
        return
    cv.set(out, _PADDLE[op](cv.tensor(name_a), cv.tensor(name_b)))


def unary(fn: Callable[[Any], Any]) -> Callable[[Any, Any], None]:
    def emit(cv: Any, node: Any) -> None:
        cv.set(node.outputs[0], fn(cv.tensor(node.inputs[0])))
    return emit


def sigmoid(cv: Any, node: Any) -> None:
    if not _gated(cv, node, F.swish):
        cv.set(node.outputs[0], F.sigmoid(cv.tensor(node.inputs[0])))


def hard_sigmoid(cv: Any, node: Any) -> None:
    alpha, beta = node.attrs.get("alpha", 0.2), node.attrs.get("beta", 0.5)
    if _close(alpha, 1 / 6, 1e-5) and _close(beta, 0.5) and _gated(cv, node, F.hardswish):
        return
    cv.set(node.outputs[0], F.hardsigmoid(cv.tensor(node.inputs[0]), slope=alpha, offset=beta))


def clip(cv: Any, node: Any) -> None:
    low, high = _clip_range(cv, node)
    cv.set(node.outputs[0], paddle.clip(cv.tensor(node.inputs[0]),
                                        -np.inf if low is None else low,
                                        np.inf if high is None else high))


# ONNX TensorProto data types (onnx.proto) -> numpy / Paddle
_DTYPES = {1: "float32", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}


def cast(cv: Any, node: Any) -> None:
    x, to = cv.value(node.inputs[0]), node.attrs["to"]
    if to not in _DTYPES:
        raise UnsupportedModel(f"Cast {node.name}: to data type {to} is not supported")
    if is_array(x):  # a shape with run-time entries stays as it is: all its entries are ints
        cv.set(node.outputs[0], x if x.dtype == object else x.astype(_DTYPES[to]))
    else:
        cv.set(node.outputs[0], paddle.cast(x, _DTYPES[to]))


def power(cv: Any, node: Any) -> None:
    exponent = scalar(cv.value(node.inputs[1]))
    if exponent is None:
        raise UnsupportedModel(f"Pow {node.name}: only a constant exponent is supported")
    x = cv.tensor(node.inputs[0])
    cv.set(node.outputs[0], paddle.square(x) if exponent == 2.0 else paddle.pow(x, exponent))


def reduce_mean(cv: Any, node: Any) -> None:
    if fused_layer_norm(cv, node):
        return
    name = node.inputs[0]
    rank = cv.rank(name)
    axes = sorted(a % rank for a in node.attrs.get("axes", range(rank)))
    keep = bool(node.attrs.get("keepdims", 1))
    if rank == 4 and axes == [2, 3] and keep:
        cv.set(node.outputs[0], _spatial_mean(cv, name))
    else:
        cv.set(node.outputs[0], paddle.mean(cv.tensor(name), axis=axes, keepdim=keep))


def _spatial_mean(cv: Any, name: str) -> Any:
    """The mean over H and W, keeping them (squeeze-and-excitation blocks). Paddle's CPU
    kernels (its own and oneDNN's pool and mean) add a reduction up in order in float32,
    so one pass over a 120 x 160 map lands 2e-4 from the true mean, and PP-OCRv6 det's
    probability map 2e-4 from onnxruntime's. Two pools (exact windows, then their mean)
    land within 3e-6: windows of whole rows where the height is known, else the blocks
    that every input size maps to (``Converter.blocks``, a detector's); otherwise a product
    with a column of ones (oneDNN's blocked GEMM: within 2e-5 of onnxruntime, but about 20%
    slower on PP-OCRv6 det than the pools, for its layout changes)."""
    x = cv.tensor(name)
    height = x.shape[2]
    if height is not None and height > 0:
        return F.adaptive_avg_pool2d(F.adaptive_avg_pool2d(x, [height, 1]), 1)
    block = cv.blocks.get(name)
    if block is not None:
        if block != (1, 1):
            x = F.avg_pool2d(x, kernel_size=list(block), stride=list(block))
        return F.adaptive_avg_pool2d(x, 1)
    ones = paddle.reshape(paddle.full(paddle.shape(x)[2:], 1.0, "float32"), [-1, 1])
    count = paddle.cast(paddle.shape(ones)[0:1], "float32")
    return paddle.reshape(paddle.matmul(paddle.reshape(x, [0, 0, -1]), ones) / count, [0, 0, 1, 1])


def global_average_pool(cv: Any, node: Any) -> None:
    cv.set(node.outputs[0], _spatial_mean(cv, node.inputs[0]))


def _pool_args(node: Any) -> dict:
    a = node.attrs
    if any(d != 1 for d in a.get("dilations", [1])) or len(a["kernel_shape"]) != 2:
        raise UnsupportedModel(f"{node.op} {node.name}: only 2-D pooling without dilation")
    return dict(kernel_size=a["kernel_shape"], stride=a.get("strides", 1), padding=_pads(a),
                ceil_mode=bool(a.get("ceil_mode", 0)))


def max_pool(cv: Any, node: Any) -> None:
    if len(node.outputs) > 1 and node.outputs[1]:
        raise UnsupportedModel(f"MaxPool {node.name}: its indices output is not supported")
    cv.set(node.outputs[0], F.max_pool2d(cv.tensor(node.inputs[0]), **_pool_args(node)))


def average_pool(cv: Any, node: Any) -> None:
    exclusive = not node.attrs.get("count_include_pad", 0)
    cv.set(node.outputs[0], F.avg_pool2d(cv.tensor(node.inputs[0]), exclusive=exclusive,
                                         **_pool_args(node)))


def softmax(cv: Any, node: Any) -> None:
    rank = cv.rank(node.inputs[0])
    axis = node.attrs.get("axis", -1 if cv.opset >= 13 else 1) % rank
    if cv.opset < 13 and axis != rank - 1:
        raise UnsupportedModel(f"Softmax {node.name}: opset {cv.opset} over axes {axis}.. "
                               "(not the last alone) is not supported")
    cv.set(node.outputs[0], F.softmax(cv.tensor(node.inputs[0]), axis=axis))


def resize(cv: Any, node: Any) -> None:
    a = node.attrs
    scales = cv.value(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    if cv.opset < 11:
        scales = cv.value(node.inputs[1])
    sizes = cv.value(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3] else None
    mode = a.get("mode", "nearest")
    where = a.get("coordinate_transformation_mode", "half_pixel" if cv.opset >= 11 else "asymmetric")
    if mode == "nearest" and where == "asymmetric" and a.get("nearest_mode", "round_prefer_floor") == "floor":
        kwargs = dict(mode="nearest")
    elif mode == "linear" and where in ("half_pixel", "align_corners", "asymmetric"):
        kwargs = dict(mode="bilinear", align_corners=where == "align_corners",
                      align_mode=0 if where == "half_pixel" else 1)
    else:
        raise UnsupportedModel(f"Resize {node.name}: mode {mode} with {where} is not supported")
    x = cv.tensor(node.inputs[0])
    if is_array(sizes) and sizes.size and sizes.dtype != object:
        out = F.interpolate(x, size=[int(s) for s in sizes[2:]], **kwargs)
    elif is_array(scales) and scales.size == 4 and scales.dtype != object and list(scales[:2]) == [1, 1]:
        out = F.interpolate(x, scale_factor=[float(s) for s in scales[2:]], **kwargs)
    else:
        raise UnsupportedModel(f"Resize {node.name}: only constant scales or sizes")
    cv.set(node.outputs[0], out)


def concat(cv: Any, node: Any) -> None:
    values = [cv.value(n) for n in node.inputs]
    axis = node.attrs["axis"]
    if all(is_array(v) for v in values):
        cv.set(node.outputs[0], np.concatenate(values, axis=axis))
    else:
        cv.set(node.outputs[0], paddle.concat([cv.tensor(n) for n in node.inputs], axis=axis))


def transpose(cv: Any, node: Any) -> None:
    x, perm = cv.value(node.inputs[0]), node.attrs.get("perm")
    if is_array(x):
        cv.set(node.outputs[0], np.transpose(x, perm))
    else:
        cv.set(node.outputs[0], paddle.transpose(x, perm or list(range(cv.rank(node.inputs[0]))[::-1])))


def _axes(cv: Any, node: Any) -> list[int] | None:
    if "axes" in node.attrs:
        return list(node.attrs["axes"])
    if len(node.inputs) > 1 and node.inputs[1]:
        return [int(a) for a in cv.constant(node, 1)]
    return None


def squeeze(cv: Any, node: Any) -> None:
    x, axes = cv.value(node.inputs[0]), _axes(cv, node)
    if is_array(x):
        cv.set(node.outputs[0], np.squeeze(x, axis=None if axes is None else tuple(axes)))
    else:
        cv.set(node.outputs[0], paddle.squeeze(x, axes))


def unsqueeze(cv: Any, node: Any) -> None:
    x, axes = cv.value(node.inputs[0]), _axes(cv, node)
    if is_array(x):
        rank = x.ndim + len(axes)
        for axis in sorted(a % rank for a in axes):
            x = np.expand_dims(x, axis)
        cv.set(node.outputs[0], x)
    else:
        cv.set(node.outputs[0], paddle.unsqueeze(x, axes))


def shape(cv: Any, node: Any) -> None:
    x = cv.tensor(node.inputs[0])
    dims = [d if d is not None and d >= 0 else Dim(x, i) for i, d in enumerate(x.shape)]
    cv.set(node.outputs[0], np.array(dims, dtype=np.int64 if all(isinstance(d, int) for d in dims)
                                      else object))


def reshape(cv: Any, node: Any) -> None:
    x, target = cv.value(node.inputs[0]), cv.value(node.inputs[1])
    if not is_array(target):
        raise UnsupportedModel(f"Reshape {node.name}: a shape computed from tensor values")
    target = list(target.reshape(-1))
    if is_array(x):
        dims = [x.shape[i] if isinstance(d, (int, np.integer)) and d == 0 else d
                for i, d in enumerate(target)]
        cv.set(node.outputs[0], x.reshape([int(d) for d in dims] if dims else ()))
        return
    dims: list[Any] = []
    for i, d in enumerate(target):
        if isinstance(d, Dim):
            d = 0 if d.value.is_same(x) and d.axis == i else d
        dims.append(d if isinstance(d, Dim) else int(d))
    unknown = [i for i, d in enumerate(dims) if isinstance(d, Dim)]
    if len(unknown) == 1 and -1 not in dims:
        dims[unknown[0]] = -1
    elif unknown:
        dims = [paddle.shape(d.value)[d.axis:d.axis + 1] if isinstance(d, Dim) else d
                for d in dims]
    cv.set(node.outputs[0], paddle.reshape(x, dims))


def slice_(cv: Any, node: Any) -> None:
    x = cv.value(node.inputs[0])
    starts, ends = (list(cv.constant(node, i)) for i in (1, 2))
    rank = x.ndim if is_array(x) else cv.rank(node.inputs[0])
    axes = list(cv.constant(node, 3)) if len(node.inputs) > 3 and node.inputs[3] else list(range(len(starts)))
    steps = list(cv.constant(node, 4)) if len(node.inputs) > 4 and node.inputs[4] else [1] * len(starts)
    if is_array(x):
        index = [slice(None)] * x.ndim
        for axis, start, end, step in zip(axes, starts, ends, steps):
            index[int(axis) % rank] = slice(int(start), int(end), int(step))
        cv.set(node.outputs[0], x[tuple(index)])
        return
    axes = [int(a) % rank for a in axes]
    clamp = [[max(min(int(v), INT32_MAX), -INT32_MAX) for v in vs] for vs in (starts, ends)]
    if any(int(s) != 1 for s in steps):
        out = paddle.strided_slice(x, axes, clamp[0], clamp[1], [int(s) for s in steps])
    else:
        out = paddle.slice(x, axes, clamp[0], clamp[1])
    cv.set(node.outputs[0], out)


OPERATORS: dict[str, Callable[[Any, Any], None]] = {
    "Add": binary, "Sub": binary, "Mul": binary, "Div": binary,
    "Conv": conv, "ConvTranspose": conv_transpose, "BatchNormalization": batch_norm,
    "MatMul": matmul,
    "Relu": unary(F.relu), "Erf": unary(paddle.erf), "Sqrt": unary(paddle.sqrt),
    "Sigmoid": sigmoid, "HardSigmoid": hard_sigmoid, "Pow": power, "Clip": clip,
    "Cast": cast,
    "ReduceMean": reduce_mean, "GlobalAveragePool": global_average_pool,
    "MaxPool": max_pool, "AveragePool": average_pool, "Softmax": softmax, "Resize": resize,
    "Concat": concat, "Transpose": transpose, "Squeeze": squeeze, "Unsqueeze": unsqueeze,
    "Shape": shape, "Reshape": reshape, "Slice": slice_,
}
