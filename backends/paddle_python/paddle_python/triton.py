"""Glue between Triton's Python backend and the package, used by the ``model.py`` files.

Only importable inside a Python-backend stub (``triton_python_backend_utils`` exists there
alone). Everything here is conversion: request tensors to NumPy, NumPy to responses,
exceptions to per-request errors, and BLS calls as awaitables.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import traceback
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Sequence

import numpy as np
import triton_python_backend_utils as pb_utils

from . import metrics
from .batching import even_chunks, run_batched
from .errors import InputError
from .predictor import (
    Device,
    Predictor,
    PredictorOptions,
    check_input_shape,
    ignore_termination_signals,
    instance_cpus,
)

Outputs = Mapping[str, np.ndarray]


def model_config(args: Mapping[str, str]) -> dict[str, Any]:
    """The model's configuration as Triton completed it."""
    return json.loads(args["model_config"])


def instance_device(args: Mapping[str, str]) -> Device:
    """Where Triton placed this instance (``KIND_GPU`` or ``KIND_CPU``, or its choice)."""
    return Device(args["model_instance_kind"], int(args["model_instance_device_id"]))


def version_dir(args: Mapping[str, str]) -> Path:
    """The directory of the model version being loaded (holds the weights)."""
    return Path(args["model_repository"]) / args["model_version"]


def repository_root(args: Mapping[str, str]) -> Path:
    """The model repository this model was loaded from (``model_repository`` is the model's
    own directory in it)."""
    return Path(args["model_repository"]).parent


def instance_predictor(args: Mapping[str, str], options: PredictorOptions) -> Predictor:
    """This instance's Paddle predictor: weights from the version directory, placed on the
    instance's device (an OpenVINO CPU instance on cores of its own: ``instance_cpus``);
    then SIGTERM/SIGINT are handed back to Triton (Paddle takes them)."""
    device = instance_device(args)
    if device.kind == "CPU" and options.cpu_engine == "openvino":
        index = int(args["model_instance_name"].rsplit("_", 1)[1])
        cpus = instance_cpus(index, options.cpu_threads, os.sched_getaffinity(0))
        if cpus:
            os.sched_setaffinity(0, cpus)
    predictor = Predictor(version_dir(args), options, device)
    ignore_termination_signals()
    log = pb_utils.Logger.log_warn if predictor.fold_error else pb_utils.Logger.log_info
    log(f"{args['model_name']} ({args['model_instance_name']}): {predictor.folding}")
    return predictor


def input_array(request: Any, name: str) -> np.ndarray:
    """A request's input as NumPy; a missing input is the caller's error."""
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise InputError(f"missing input {name!r}", "missing_input")
    return tensor.as_numpy()


def request_parameters(request: Any) -> dict[str, Any]:
    """The request's Triton parameters (the ensemble hands them to every step)."""
    return json.loads(request.parameters() or "{}")


def strings(texts: Sequence[str]) -> np.ndarray:
    """Texts as a Triton ``TYPE_STRING`` array (UTF-8 bytes)."""
    return np.array([t.encode("utf-8") for t in texts], dtype=np.object_)


def response(outputs: Outputs) -> Any:
    return pb_utils.InferenceResponse(
        output_tensors=[pb_utils.Tensor(name, value) for name, value in outputs.items()]
    )


class CalleeError(Exception):
    """A BLS call failed; carries the callee's status code (UNAVAILABLE when its queue is full)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def error_response(exc: BaseException, model: str) -> Any:
    """INVALID_ARG when the input was at fault, the callee's code when a BLS call failed,
    INTERNAL (and a logged trace) otherwise."""
    if isinstance(exc, InputError):
        if metrics.current() is not None:
            metrics.current().rejected(exc.reason)
        return pb_utils.InferenceResponse(
            error=pb_utils.TritonError(f"{model}: {exc}", pb_utils.TritonError.INVALID_ARG)
        )
    if isinstance(exc, CalleeError):
        return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{model}: {exc}", exc.code))
    pb_utils.Logger.log_error(f"{model}: {traceback.format_exc()}")
    return pb_utils.InferenceResponse(
        error=pb_utils.TritonError(f"{model}: internal error: {exc}", pb_utils.TritonError.INTERNAL)
    )


def respond(model: str, item: Any, handle: Callable[[Any], Outputs]) -> Any:
    """One response for one item (a request, or its share of a batch): outputs or an error."""
    try:
        return response(handle(item))
    except Exception as exc:
        return error_response(exc, model)


async def respond_async(model: str, request: Any,
                        handle: Callable[[Any], Awaitable[Outputs]]) -> Any:
    try:
        return response(await handle(request))
    except Exception as exc:
        return error_response(exc, model)


async def answer(model: str, request: Any,
                 handle: Callable[[Any], Awaitable[Outputs]]) -> None:
    """Send ``request``'s one response through its response sender when ``handle`` is done.

    A model that answers this way can return from ``execute`` before its requests are done,
    and Triton hands the instance more requests meanwhile: a returned list of responses
    would hold the instance until the slowest request of the batch is done.
    """
    reply = await respond_async(model, request, handle)
    try:
        request.get_response_sender().send(
            reply, flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
    except Exception:
        pb_utils.Logger.log_error(f"{model}: could not send a response: {traceback.format_exc()}")


class Answering:
    """Requests read concurrently, at most ``limit`` at once, each answered through its
    response sender when ``handle`` is done with it (``answer``).

    ``start`` returns once the requests are under way (it waits only while ``limit`` are
    being read, so the rest stay in Triton's queue, where its timeouts apply): ``execute`` can
    return and the instance take the next requests while these wait for their BLS calls.
    """

    def __init__(self, model: str, handle: Callable[[Any], Awaitable[Outputs]], limit: int):
        self.model, self.handle = model, handle
        self.slots = asyncio.Semaphore(limit)
        self.tasks: set[asyncio.Task] = set()  # the event loop keeps only weak references

    async def start(self, requests: Sequence[Any]) -> None:
        for request in requests:
            await self.slots.acquire()
            task = asyncio.get_running_loop().create_task(self._answer(request))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _answer(self, request: Any) -> None:
        try:
            await answer(self.model, request, self.handle)
        finally:
            self.slots.release()


def predictor_responses(
    model: str,
    requests: Sequence[Any],
    input_name: str,
    predictor: Predictor,
    outputs: Callable[[np.ndarray], Outputs],
    check: Callable[[np.ndarray], None] | None = None,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    reduce: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[Any]:
    """Run every request's input through one predictor in as few runs as shapes allow;
    ``prepare`` makes each run's batch the predictor's input (text_det: uint8 -> float32, one
    run at a time), ``reduce`` shrinks each run's output before the runs are put together
    (``outputs`` then gets a request's reduced rows).

    A request whose input cannot be read, has a shape the predictor is not set up for, or
    that ``check`` refuses, fails alone; a failing predictor run fails the requests it held.
    """
    results: list[Any] = [None] * len(requests)
    arrays, owners = [], []
    for index, request in enumerate(requests):
        try:
            array = input_array(request, input_name)
            check_input_shape(array, predictor.options, input_name)
            if check is not None:
                check(array)
            arrays.append(array)
            owners.append(index)
        except Exception as exc:
            results[index] = error_response(exc, model)
    def run(batch: np.ndarray) -> np.ndarray:
        with metrics.stage("predict"):
            out = predictor(batch if prepare is None else prepare(batch))
        if metrics.current() is not None:
            metrics.current().batch(len(batch))
        return out if reduce is None else reduce(out)

    try:
        for index, out in zip(owners, run_batched(arrays, run, predictor.options.batch_sizes_for)):
            results[index] = respond(model, out, outputs)
    except Exception as exc:
        for index in owners:
            results[index] = error_response(exc, model)
    return results


async def infer(model: str, inputs: Outputs, output_names: Sequence[str], max_batch: int,
                in_flight: asyncio.Semaphore | None = None,
                parameters: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """BLS: call another model, splitting the batch into requests of at most ``max_batch``
    rows, as equal in size as can be (``even_chunks``), each with the request
    ``parameters`` given.

    ``in_flight`` bounds how many such requests this model has out at once: their tensors
    live in this stub's shared memory, which grows (and never shrinks) to the largest amount
    ever in flight together.
    """
    # The Python backend takes bool, int and str parameter values: a float goes as its text,
    # which the callee reads back the same way (options.request_value).
    extra = {"parameters": {k: v if isinstance(v, (bool, int, str)) else str(v)
                            for k, v in parameters.items()}} if parameters else {}

    async def one(chunk: Outputs) -> Any:
        async with in_flight or contextlib.nullcontext():
            request = pb_utils.InferenceRequest(
                model_name=model,
                inputs=[pb_utils.Tensor(name, np.ascontiguousarray(v)) for name, v in chunk.items()],
                requested_output_names=list(output_names),
                **extra,
            )
            reply = await request.async_exec()
            if reply.has_error():
                error = reply.error()
                raise CalleeError(f"{model}: {error.message()}", error.code())
            return {name: pb_utils.get_output_tensor_by_name(reply, name).as_numpy().copy()
                    for name in output_names}

    sizes = even_chunks(len(next(iter(inputs.values()))), max_batch)
    starts = np.cumsum([0, *sizes[:-1]])
    replies = await asyncio.gather(
        *(one({k: v[s : s + n] for k, v in inputs.items()}) for s, n in zip(starts, sizes))
    )
    return {name: np.concatenate([r[name] for r in replies]) for name in output_names}
