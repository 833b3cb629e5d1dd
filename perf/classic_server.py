"""Baseline: the classic design this product replaces.

One synchronous HTTP server process holds one pipeline (one predictor per model, loaded at
start-up) and answers one request at a time. It speaks just enough of the KServe v2 REST
protocol (health, model metadata and config, ``infer`` with binary tensor data) for
perf_analyzer to drive it exactly as it drives Triton.

    .venv/bin/python perf/classic_server.py --port 8010
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository

MODEL = "ocr"
METADATA = {
    "name": MODEL, "versions": ["1"], "platform": "python",
    "inputs": [{"name": "image", "datatype": "UINT8", "shape": [-1, -1]}],
    "outputs": [{"name": "texts", "datatype": "BYTES", "shape": [-1, -1]},
                {"name": "scores", "datatype": "FP32", "shape": [-1, -1]},
                {"name": "boxes", "datatype": "FP32", "shape": [-1, -1, 4, 2]}],
}
CONFIG = {
    "name": MODEL, "platform": "python", "max_batch_size": 1,
    "input": [{"name": "image", "data_type": "TYPE_UINT8", "dims": [-1]}],
    "output": [{"name": "texts", "data_type": "TYPE_STRING", "dims": [-1]},
               {"name": "scores", "data_type": "TYPE_FP32", "dims": [-1]},
               {"name": "boxes", "data_type": "TYPE_FP32", "dims": [-1, 4, 2]}],
}


class ClassicServer(HTTPServer):
    request_queue_size = 64  # room for every waiting client's connection


def make_handler(pipeline):
    class Handler(BaseHTTPRequestHandler):
        # One request per connection: waiting clients queue in the listen backlog and are
        # answered in turn (a kept-alive connection would monopolise the single thread).
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: object) -> None:  # quiet: perf runs send thousands
            pass

        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            routes = {
                "/v2/health/live": {}, "/v2/health/ready": {},
                f"/v2/models/{MODEL}": METADATA, f"/v2/models/{MODEL}/versions/1": METADATA,
                f"/v2/models/{MODEL}/config": CONFIG,
                f"/v2/models/{MODEL}/versions/1/config": CONFIG,
                f"/v2/models/{MODEL}/ready": {},
                "/v2": {"name": "classic", "version": "0", "extensions": []},
            }
            if self.path in routes:
                self._json(200, routes[self.path])
            else:
                self._json(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            if not self.path.rstrip("/").endswith("/infer"):
                self._json(404, {"error": f"no route {self.path}"})
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            header_size = int(self.headers.get("Inference-Header-Content-Length", len(body)))
            request = json.loads(body[:header_size])
            (tensor,) = request["inputs"]
            if "data" in tensor:
                image = bytes(tensor["data"])
            else:
                image = body[header_size:header_size + tensor["parameters"]["binary_data_size"]]
            try:
                result = pipeline(image)
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            n = len(result.texts)
            self._json(200, {"model_name": MODEL, "outputs": [
                {"name": "texts", "datatype": "BYTES", "shape": [1, n], "data": result.texts},
                {"name": "scores", "datatype": "FP32", "shape": [1, n],
                 "data": result.scores.tolist()},
                {"name": "boxes", "datatype": "FP32", "shape": [1, n, 4, 2],
                 "data": result.boxes.reshape(-1).tolist()},
            ]})

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--model-repository", type=Path, default=ROOT / "model_repository")
    args = parser.parse_args()
    from perf.baselines import in_process_pipeline

    pipeline = in_process_pipeline(args.model_repository)
    server = ClassicServer(("127.0.0.1", args.port), make_handler(pipeline))
    print(f"classic server ready on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
