"""The OCR stages in order, written once for both the served and the in-process pipeline.

``read_text`` runs everything after detection: DB boxes, crops, direction classification and
recognition. It takes the classifier and recognizer as async callables, so the served
``ocr_postprocess`` model passes BLS calls to ``text_cls`` / ``text_rec`` and ``OcrPipeline``
passes local predictors; both then produce the same result for the same image.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Awaitable, Callable

import numpy as np

from . import classification, detection, metrics, recognition, words
from .batching import group_by_shape, run_batched
from .classification import ClsOptions
from .detection import DbOptions, DetNormalize, DetResize
from .imaging import ImageLimits, decode_image
from .model_files import PaddleModels, read_described, served_dir
from .options import load_model_config, read_options, with_parameters
from .predictor import Device, Predictor, PredictorOptions
from .recognition import CtcOptions, RecOptions

# batch (k x 3 x 48 x 192) -> (angles, scores)
Classify = Callable[[np.ndarray], Awaitable[tuple[np.ndarray, np.ndarray]]]
# batch (k x 3 x 48 x W) -> (texts, scores, steps: k x T, CtcDecoder.steps)
Recognize = Callable[[np.ndarray], Awaitable[tuple[list[str], np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class BlsOptions:
    """How many images the served post-processing reads at once, and how it reaches the
    classifier and recognizer (``PaddleModels`` names them)."""

    bls_max_batch: int = 8  # crops per BLS request to the recognizer: at most its max_batch_size
    # Windows per BLS request to the classifier (at most its max_batch_size): they are small
    # and all one shape, so each request's fixed cost is spread over as many as it takes.
    cls_bls_max_batch: int = 16
    bls_max_in_flight: int = 4  # BLS requests out at once: bounds this stub's shared memory
    images_in_flight: int = 4  # images one instance reads at once, each answered when done


@dataclass
class OcrResult:
    """Lines in reading order: texts, recognition scores, boxes ``n x 4 x 2`` in pixels; and
    how many of the lines were read turned 180 degrees. With ``return_word_boxes``, their
    words in order too: texts, boxes ``k x 4 x 2``, and the index of each word's line."""

    texts: list[str] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 2), np.float32))
    turned: int = 0
    words: list[str] = field(default_factory=list)
    word_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 2), np.float32))
    word_lines: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))


async def read_text(
    image: np.ndarray,
    prob: np.ndarray,
    det_shape: np.ndarray,
    db: DbOptions,
    cls: ClsOptions,
    rec: RecOptions,
    classify: Classify,
    recognize: Recognize,
) -> OcrResult:
    """Detection map of ``image`` -> the text lines it holds."""
    detection.check_det_shape(det_shape, prob.shape, image.shape)
    with metrics.stage("boxes"):
        boxes, _ = detection.db_boxes(prob, det_shape, db)
        crops = [detection.crop(image, box) for box in boxes]
    if len(boxes) == 0:
        return OcrResult()
    turned = (await upside_down(crops, cls, classify) if cls.use_angle_cls
              else np.zeros(len(crops), dtype=bool))
    texts, scores, steps, read_turned = await read_crops(crops, turned, cls.cls_verify, rec,
                                                        recognize)
    # A page lying on its side or upside down reads in the order of its lines set upright.
    order = detection.page_order(boxes, read_turned, image.shape)
    keep = [i for i in order if scores[i] >= rec.min_score and texts[i]]
    result = OcrResult([texts[i] for i in keep], scores[keep], boxes[keep].astype(np.float32),
                       turned=int(read_turned.sum()))
    if rec.return_word_boxes:
        found = [line_words(crops[i], texts[i], steps[i], boxes[i], bool(read_turned[i]), rec)
                 for i in keep]
        result.words = [word for each, _ in found for word in each]
        result.word_boxes = np.concatenate([result.word_boxes, *(b for _, b in found)])
        result.word_lines = np.repeat(np.arange(len(keep), dtype=np.int32),
                                      [len(each) for each, _ in found])
    return result


def line_words(crop: np.ndarray, text: str, steps: np.ndarray, box: np.ndarray, turned: bool,
               rec: RecOptions) -> tuple[list[str], np.ndarray]:
    """The words of the line read from ``crop`` (cut from ``box``, read turned or not) and
    their boxes in the image, placed by the line's CTC steps in the recognizer's input."""
    resized, width = recognition.bucket_width(*crop.shape[:2], rec)
    return words.line_words(text, steps, box, turned, width, resized, crop.shape[1])


async def upside_down(crops: list[np.ndarray], cls: ClsOptions, classify: Classify
                      ) -> np.ndarray:
    """Which crops the direction classifier says are upside down (it reads each in windows)."""
    with metrics.stage("classify"):
        inputs = [classification.windows(c, cls.cls_max_windows) for c in crops]
        owners = [i for i, each in enumerate(inputs) for _ in each]
        angles, scores = await classify(np.stack([x for each in inputs for x in each]))
    return classification.upside_down(angles, scores, owners, len(crops), cls)


async def read_crops(crops: list[np.ndarray], turned: np.ndarray, verify: bool,
                     rec: RecOptions, recognize: Recognize
                     ) -> tuple[list[str], np.ndarray, list[np.ndarray], np.ndarray]:
    """Each crop's text, score and CTC steps, read the way the classifier says; with
    ``verify`` a crop it would turn is also read as it stands and the surer reading kept. The
    last result says which crops were read turned."""
    readings = [(i, classification.turn(c) if turned[i] else c) for i, c in enumerate(crops)]
    if verify:
        readings += [(i, crops[i]) for i in np.flatnonzero(turned)]
    texts, scores, steps = await recognize_all([c for _, c in readings], rec, recognize)
    best: dict[int, int] = {}
    for k, (i, _) in enumerate(readings):
        if i not in best or scores[k] > scores[best[i]]:
            best[i] = k
    chosen = [best[i] for i in range(len(crops))]
    read_turned = np.array([bool(turned[i]) and chosen[i] == i for i in range(len(crops))])
    return [texts[k] for k in chosen], scores[chosen], [steps[k] for k in chosen], read_turned


async def recognize_all(crops: list[np.ndarray], rec: RecOptions, recognize: Recognize
                        ) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """Texts, scores and CTC steps of ``crops``, recognised in groups of one width bucket."""
    tensors = [recognition.preprocess(c, rec)[None] for c in crops]
    # Widest crops first: the longest requests start first, so that one image's requests,
    # spread over text_rec's instances, finish close together.
    groups = sorted(group_by_shape(tensors).values(), key=lambda m: -tensors[m[0]].shape[-1])
    with metrics.stage("recognize"):
        results = await asyncio.gather(
            *(recognize(np.concatenate([tensors[i] for i in members])) for members in groups)
        )
    texts = [""] * len(crops)
    scores = np.zeros(len(crops), dtype=np.float32)
    steps = [np.zeros(0, np.int32)] * len(crops)
    for members, (group_texts, group_scores, group_steps) in zip(groups, results):
        for i, text, score, row in zip(members, group_texts, group_scores, group_steps):
            texts[i], scores[i], steps[i] = text, score, row
    return texts, scores, steps


@dataclass(frozen=True)
class PipelineConfig:
    """Every stage's options, read from a model repository's ``config.pbtxt`` files."""

    models: PaddleModels
    limits: ImageLimits
    resize: DetResize
    norm: DetNormalize
    db: DbOptions
    cls: ClsOptions
    rec: RecOptions
    ctc: CtcOptions
    det_predictor: PredictorOptions
    cls_predictor: PredictorOptions
    rec_predictor: PredictorOptions

    @classmethod
    def from_repository(cls, repository: str | Path) -> "PipelineConfig":
        repo = Path(repository)
        _, limits, resize = read_described(load_model_config(repo / "ocr_preprocess"), repo,
                                           ImageLimits, DetResize)
        models, db, cls_opts, rec, _ = read_described(
            load_model_config(repo / "ocr_postprocess"), repo,
            DbOptions, ClsOptions, RecOptions, BlsOptions)
        _, det_p, norm = read_described(load_model_config(repo / models.det_model), repo,
                                        PredictorOptions, DetNormalize)
        (cls_p,) = read_options(load_model_config(repo / models.cls_model), PredictorOptions)
        rec_p, ctc = read_options(load_model_config(repo / models.rec_model), PredictorOptions,
                                  CtcOptions)
        return cls(models, limits, resize, norm, db, cls_opts, rec, ctc, det_p, cls_p, rec_p)

    def with_parameters(self, params: dict[str, str]) -> "PipelineConfig":
        """The same options with ``params`` (parameter name -> text, as ``config.pbtxt``
        writes them) applied wherever a stage has a field of that name; ``stage.name``
        (``det_predictor.cpu_precision``) applies to that stage alone."""
        qualified = {f"{group.name}.{f.name}" for group in fields(self)
                     for f in fields(getattr(self, group.name))}
        plain = {name.split(".")[1] for name in qualified}
        unknown = set(params) - qualified - plain
        if unknown:
            raise ValueError(f"no stage has parameters {sorted(unknown)}")

        def for_stage(stage: str) -> dict[str, str]:
            return {**{k: v for k, v in params.items() if "." not in k},
                    **{k.split(".", 1)[1]: v for k, v in params.items()
                       if k.startswith(stage + ".")}}

        return replace(self, **{group.name: with_parameters(getattr(self, group.name),
                                                            for_stage(group.name))
                                for group in fields(self)})

    def with_predictors(self, **changes: object) -> "PipelineConfig":
        """The same options with ``changes`` made to all three predictors' options."""
        return replace(self, det_predictor=replace(self.det_predictor, **changes),
                       cls_predictor=replace(self.cls_predictor, **changes),
                       rec_predictor=replace(self.rec_predictor, **changes))

    def for_one_process(self, threads: int) -> "PipelineConfig":
        """The options for a whole pipeline in one process: every predictor on ``threads``
        CPU threads (it has the cores to itself, where served instances share them), no
        oneDNN cache limit (with ``cpu_engine`` onednn the three predictors share the thread's
        oneDNN cache, so a limit of one shape would rebuild primitives at every stage), and
        recognition in runs of up to ``ONE_PROCESS_MAX_BATCH_WIDTH`` columns."""
        config = self.with_predictors(cpu_threads=threads, onednn_cache_capacity=0)
        return replace(config, rec_predictor=replace(
            config.rec_predictor, max_batch_width=ONE_PROCESS_MAX_BATCH_WIDTH))


# One multi-threaded recognizer spreads a wider batch over its threads: in one process runs of
# up to 2560 columns read 6% more images/s than the served instances' 640 (single-threaded,
# where a crop costs the same alone or batched; perf/results/sweep-2026-11-28.md).
ONE_PROCESS_MAX_BATCH_WIDTH = 2560


class OcrPipeline:
    """The served pipeline called in-process: same package, same weights, same options."""

    def __init__(self, repository: str | Path, device: Device = Device(),
                 config: PipelineConfig | None = None):
        repo = Path(repository)
        self.config = config or PipelineConfig.from_repository(repo)
        c = self.config
        det_dir, cls_dir, rec_dir = (served_dir(repo / name) for name in
                                     (c.models.det_model, c.models.cls_model, c.models.rec_model))
        self.det = Predictor(det_dir, c.det_predictor, device)
        self.cls = Predictor(cls_dir, c.cls_predictor, device)
        self.rec = Predictor(rec_dir, c.rec_predictor, device)
        self.decoder = recognition.CtcDecoder(recognition.ctc_classes(rec_dir, c.ctc))

    def __call__(self, data: bytes) -> OcrResult:
        """OCR one encoded image file."""
        with metrics.stage("decode"):
            image = decode_image(data, self.config.limits)
        return self.read_image(image)

    def read_image(self, image: np.ndarray) -> OcrResult:
        """OCR one decoded BGR image."""
        c = self.config
        with metrics.stage("resize"):
            tensor, det_shape = detection.preprocess(image, c.resize, c.norm)
        with metrics.stage("detect"):
            prob = self.det(detection.normalize(tensor[None], c.norm))[0]
        return asyncio.run(
            read_text(image, prob, det_shape, c.db, c.cls, c.rec, self._classify, self._recognize)
        )

    async def _classify(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (probs,) = run_batched([batch], self.cls, self.config.cls_predictor.batch_sizes_for)
        return classification.decode(probs)

    async def _recognize(self, batch: np.ndarray
                         ) -> tuple[list[str], np.ndarray, np.ndarray]:
        (paths,) = run_batched([batch], lambda x: self.decoder.best_path(self.rec(x)),
                               self.config.rec_predictor.batch_sizes_for)
        return (*self.decoder.decode(paths), self.decoder.steps(paths))
