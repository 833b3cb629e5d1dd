"""Import a PP-OCR model from ONNX as a Paddle Inference model in PaddleOCR 3.x format.

``ocr-import-onnx MODEL.onnx OUT_DIR --kind det|rec|cls`` writes ``OUT_DIR/inference.json``
(a PIR program of native Paddle operators, as Paddle 3.2 saves it), ``inference.pdiparams``
and ``inference.yml`` (the model's name, the pre-processing PaddleOCR writes for that kind
and, for a recognizer, the dictionary from the ONNX metadata key ``character``): a directory
``model_files`` and ``predictor`` load like any PaddleOCR export. PP-OCRv6 small, for one,
is published as ONNX (rapidocr 3.10 ships it).

Why here and not x2paddle: x2paddle 1.6 converts these models correctly, but its programs
keep every ONNX ``Identity`` as an ``assign`` (with a oneDNN layout change around each: 36%
of recognition time), and with them removed first (onnxslim) Paddle no longer fuses the
written-out GELU and LayerNorm, each a string of elementwise ops and ``mean``s (about 20%
of recognition time; the platform notes, "Why x2paddle's programs are slow", measured
both). This importer drops the ``Identity`` nodes, recognises GELU and LayerNorm (and swish, hardswish,
biases, batch norms after convolutions) and emits ``gelu`` / ``layer_norm`` themselves, and
refuses an operator it does not know by name rather than guessing (``onnx_ops.OPERATORS``).

Building needs the whole ``paddle`` package and ``onnx`` (imported here only when a model is
imported, not by the serving code).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import yaml

KINDS = ("det", "rec", "cls")
REC_SHAPE = (3, 48, 320)
CLS_SHAPE = (3, 48, 192)
DET_MULTIPLE = 32  # a DB detector's input sides are multiples of its stride (detection.py)
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


@dataclass
class Node:
    """One ONNX node with its inputs seen through the ``Identity`` nodes removed."""

    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)


def _attribute(attribute: Any) -> Any:
    import onnx

    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, onnx.TensorProto):
        return onnx.numpy_helper.to_array(value)
    return list(value) if isinstance(value, (list, tuple)) else value


PROBE = (7, 11)  # input sides, in multiples: coprime, so that no block size hides in them


def _blocks(model: Any, multiple: int) -> dict[str, tuple[int, int]]:
    """``{value: (rows, columns)}``: how many rows and columns of each 4-D value one
    ``multiple x multiple`` block of the input becomes, from ONNX shape inference on an input
    of ``PROBE`` blocks. A value whose sides do not scale with the input's is left out."""
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.value_info[:]
    dims = probe.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        return {}
    for dim, value in zip(dims, (1, dims[1].dim_value or 3, *(p * multiple for p in PROBE))):
        dim.Clear()
        dim.dim_value = value
    try:
        inferred = onnx.shape_inference.infer_shapes(probe)
    except Exception:  # noqa: BLE001 - no blocks: the importer then does without them
        return {}
    blocks = {}
    for info in inferred.graph.value_info:
        sides = [d.dim_value for d in info.type.tensor_type.shape.dim][2:]
        if len(info.type.tensor_type.shape.dim) == 4 and all(sides):
            if all(side % p == 0 for side, p in zip(sides, PROBE)):
                blocks[info.name] = tuple(side // p for side, p in zip(sides, PROBE))
    return blocks


def _topological(graph: Any) -> list[Any]:
    """The graph's nodes in an order that computes each value before its use (ONNX asks
    for one, but older exporters did not always keep to it), otherwise as listed."""
    known = {i.name for i in graph.initializer} | {i.name for i in graph.input} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(i in known for i in n.input)]
        if not ready:
            names = sorted({i for n in pending for i in n.input} - known)[:5]
            raise ValueError(f"the ONNX graph has a cycle or undefined values: {names}")
        ready_ids = {id(n) for n in ready}
        ordered.extend(ready)
        known.update(o for n in ready for o in n.output)
        pending = [n for n in pending if id(n) not in ready_ids]
    return ordered


class Converter:
    """The program under construction: each ONNX value's Paddle ``Value`` or numpy array."""

    def __init__(self, model: Any, input_multiple: int = 0):
        import onnx
        import paddle

        from . import onnx_ops

        self.paddle, self.ops = paddle, onnx_ops
        # Each 4-D value's (rows, columns) per ``input_multiple`` input rows and columns,
        # where every input's sides are multiples of it (a detector's: 32).
        self.blocks = _blocks(model, input_multiple) if input_multiple else {}
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 11)
        graph = model.graph
        self.values: dict[str, Any] = {
            i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
        alias: dict[str, str] = {}
        self.nodes: list[Node] = []
        for index, proto in enumerate(_topological(graph)):
            inputs = [alias.get(n, n) for n in proto.input]
            if proto.domain not in ("", "ai.onnx"):
                raise onnx_ops.UnsupportedModel(
                    f"operator {proto.domain}.{proto.op_type} (node {proto.name!r}) is not "
                    "supported: only the default ONNX domain is")
            if proto.op_type == "Identity":
                alias[proto.output[0]] = inputs[0]
                continue
            attrs = {a.name: _attribute(a) for a in proto.attribute}
            if proto.op_type == "Constant":
                self.values[proto.output[0]] = attrs["value"]
                continue
            self.nodes.append(Node(proto.op_type, proto.name or f"node{index}", inputs,
                                   list(proto.output), attrs))
        unknown = sorted({n.op for n in self.nodes} - set(onnx_ops.OPERATORS))
        if unknown:
            raise onnx_ops.UnsupportedModel(
                f"unsupported ONNX operator(s): {', '.join(unknown)} (supported: "
                f"{', '.join(sorted(onnx_ops.OPERATORS))})")
        self.outputs = [alias.get(o.name, o.name) for o in graph.output]
        self.inputs = [i for i in graph.input if i.name not in self.values]
        self._consumers: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in node.inputs:
                self._consumers.setdefault(name, []).append(node)
        self._taken: set[int] = set()
        self.parameters: dict[str, np.ndarray] = {}
        self._parameter_of: dict[int, Any] = {}

    # --- what emitters use -------------------------------------------------------------
    def value(self, name: str) -> Any:
        if name not in self.values:
            raise self.ops.UnsupportedModel(f"value {name!r} is used before it is computed")
        return self.values[name]

    def constant(self, node: Node, index: int) -> np.ndarray:
        value = self.value(node.inputs[index])
        if not isinstance(value, np.ndarray) or value.dtype == object:
            raise self.ops.UnsupportedModel(
                f"{node.op} {node.name}: input {index} must be a constant")
        return value

    def tensor(self, name_or_value: Any) -> Any:
        """A program ``Value`` for an ONNX value name (or a value): constants become
        parameters."""
        value = self.value(name_or_value) if isinstance(name_or_value, str) else name_or_value
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise self.ops.UnsupportedModel("a shape with run-time entries used as a tensor")
            return self.parameter(value)
        return value

    def parameter(self, array: np.ndarray | None) -> Any:
        if array is None:
            return None
        key = id(array)
        if key not in self._parameter_of:
            if array.dtype != np.float32:
                raise self.ops.UnsupportedModel(f"a {array.dtype} constant used as a tensor")
            name = f"onnx_param_{len(self.parameters)}"
            self._parameter_of[key] = self.paddle.static.create_parameter(
                list(array.shape), "float32", name=name,
                default_initializer=self.paddle.nn.initializer.Constant(0.0))
            self.parameters[name] = array
        return self._parameter_of[key]

    def rank(self, name: str) -> int | None:
        value = self.value(name)
        shape = value.shape
        return len(shape) if shape is not None else None

    def consumers(self, name: str) -> list[Node]:
        return self._consumers.get(name, [])

    def only_consumer(self, name: str, op: str) -> Node | None:
        """The one node reading ``name`` if it is an ``op`` (and ``name`` is no output)."""
        users = self.consumers(name)
        if len(users) != 1 or users[0].op != op or name in self.outputs:
            return None
        return users[0]

    def taken(self, *nodes: Node) -> None:
        """Nodes an emitter has emitted along with its own."""
        self._taken.update(id(n) for n in nodes)

    def set(self, name: str, value: Any) -> None:
        self.values[name] = value

    # --- building ---------------------------------------------------------------------
    def build(self) -> tuple[list[Any], list[Any]]:
        feeds = []
        for graph_input in self.inputs:
            dims = [d.dim_value if d.dim_value > 0 else -1
                    for d in graph_input.type.tensor_type.shape.dim]
            feed = self.paddle.static.data(graph_input.name, dims, "float32")
            self.values[graph_input.name] = feed
            feeds.append(feed)
        for node in self.nodes:
            if id(node) not in self._taken:
                self.ops.OPERATORS[node.op](self, node)
        fetches = [self.tensor(name) for name in self.outputs]
        return feeds, fetches


def convert(model: Any, prefix: str | Path, input_multiple: int = 0) -> dict[str, int]:
    """Write ``prefix.json`` and ``prefix.pdiparams`` from an ONNX model (a ``ModelProto``)
    whose input sides are multiples of ``input_multiple`` (0: any); the program's operator
    counts by name."""
    import paddle

    paddle.enable_static()
    main, startup = paddle.static.Program(), paddle.static.Program()
    with paddle.static.program_guard(main, startup):
        converter = Converter(model, input_multiple)
        feeds, fetches = converter.build()
    executor = paddle.static.Executor(paddle.CPUPlace())
    scope = paddle.static.Scope()
    with paddle.static.scope_guard(scope):
        executor.run(startup)
        for name, array in converter.parameters.items():
            scope.find_var(name).get_tensor().set(np.ascontiguousarray(array), paddle.CPUPlace())
        paddle.static.save_inference_model(str(prefix), feeds, fetches, executor, program=main)
    counts: dict[str, int] = {}
    for op in main.global_block().ops:
        counts[op.name()] = counts.get(op.name(), 0) + 1
    return counts


def dictionary(model: Any) -> list[str]:
    """A recognizer's characters from its ONNX metadata (``character``, one a line)."""
    meta = {p.key: p.value for p in model.metadata_props}
    if "character" not in meta:
        raise ValueError("the ONNX model has no 'character' metadata: pass --dictionary")
    chars = meta["character"].split("\n")
    return chars[:-1] if chars and chars[-1] == "" else chars


def description(kind: str, name: str, chars: list[str] | None = None,
                input_hw: tuple[int, int] | None = None,
                normalize: tuple[list[float], list[float]] | None = None) -> dict[str, Any]:
    """The ``inference.yml`` PaddleOCR writes for a model of this kind (the keys
    ``model_files`` reads: pre-processing, post-processing, dictionary). ``normalize``, a
    detector's (mean, std) on 0-1 BGR pixels, replaces PaddleOCR's ImageNet statistics: an
    ONNX file does not say what it was trained with, its publisher's pre-processing does."""
    decode = {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}}
    if kind == "det":
        mean, std = normalize or IMAGENET
        ops: list[Any] = [decode, {"DetLabelEncode": None},
                          {"DetResizeForTest": {"resize_long": 960}},
                          {"NormalizeImage": {"mean": list(mean), "order": "hwc",
                                              "scale": "1./255.", "std": list(std)}},
                          {"ToCHWImage": None},
                          {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}}]
        post: dict[str, Any] = {"name": "DBPostProcess", "thresh": 0.3, "box_thresh": 0.6,
                                "max_candidates": 1000, "unclip_ratio": 1.5}
    elif kind == "rec":
        height = input_hw[0] if input_hw and input_hw[0] > 0 else REC_SHAPE[1]
        ops = [decode, {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
               {"RecResizeImg": {"image_shape": [3, height, REC_SHAPE[2]]}},
               {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length",
                                           "valid_ratio"]}}]
        post = {"name": "CTCLabelDecode", "character_dict": list(chars or [])}
    else:
        height, width = (h if h > 0 else d for h, d in zip(input_hw or (-1, -1), CLS_SHAPE[1:]))
        ops = [decode, {"ClsResizeImg": {"image_shape": [3, height, width]}},
               {"NormalizeImage": {"mean": [0.5] * 3, "order": "", "scale": "1./255.",
                                   "std": [0.5] * 3}},
               {"ToCHWImage": None}, {"KeepKeys": {"keep_keys": ["image"]}}]
        post = {"name": "Topk", "topk": 1, "label_list": ["0", "180"]}
    return {"Global": {"model_name": name}, "PreProcess": {"transform_ops": ops},
            "PostProcess": post}


def import_onnx(model_path: str | Path, out_dir: str | Path, kind: str,
                name: str | None = None,
                normalize: tuple[list[float], list[float]] | None = None) -> dict[str, int]:
    """Import ``model_path`` into ``out_dir`` (created): program, parameters, description
    (``normalize``: a detector's mean and std, see ``description``). Returns the program's
    operator counts."""
    import onnx

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(model_path))
    dims = [[d.dim_value or -1 for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    input_hw = tuple(dims[0][2:4]) if dims and len(dims[0]) == 4 else None
    chars = dictionary(model) if kind == "rec" else None
    counts = convert(model, out_dir / "inference", DET_MULTIPLE if kind == "det" else 0)
    text = yaml.safe_dump(description(kind, name or Path(model_path).stem, chars, input_hw,
                                      normalize),
                          allow_unicode=True, sort_keys=False)
    (out_dir / "inference.yml").write_text(text, encoding="utf-8")
    return counts


def _summary(counts: dict[str, int], names: Iterable[str]) -> str:
    short = {re.sub(r"^pd_op\.", "", k): v for k, v in counts.items()}
    return ", ".join(f"{n} {short.get(n, 0)}" for n in names)


def _triple(text: str) -> list[float]:
    values = [float(v) for v in text.split(",")]
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"three comma-separated values, not {text!r}")
    return values


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="ocr-import-onnx",
        description="Import an ONNX PP-OCR model as a Paddle Inference model directory "
                    "(inference.json, inference.pdiparams, inference.yml).")
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("out_dir", help="the directory to write (created)")
    parser.add_argument("--kind", choices=KINDS, required=True,
                        help="det (text detection), rec (recognition) or cls (orientation)")
    parser.add_argument("--name", help="model name for inference.yml (default: the file's stem)")
    parser.add_argument("--mean", type=_triple, help="a detector's normalisation mean, three "
                        "comma-separated values for B,G,R on 0-1 (default ImageNet's, as PaddleOCR)")
    parser.add_argument("--std", type=_triple, help="a detector's normalisation std, as --mean")
    args = parser.parse_args(argv)
    if (args.mean is None) != (args.std is None) or (args.mean and args.kind != "det"):
        parser.error("--mean and --std go together, and only with --kind det")
    try:
        counts = import_onnx(args.model, args.out_dir, args.kind, args.name,
                             (args.mean, args.std) if args.mean else None)
    except (ValueError, OSError) as error:  # UnsupportedModel included
        sys.exit(f"ocr-import-onnx: {error}")
    total = sum(v for k, v in counts.items() if k.startswith("pd_op."))
    print(f"wrote {args.out_dir}: {total} operators ("
          f"{_summary(counts, ('conv2d', 'depthwise_conv2d', 'gelu', 'layer_norm', 'assign'))})")


if __name__ == "__main__":
    main()
