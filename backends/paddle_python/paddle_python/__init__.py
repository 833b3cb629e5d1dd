"""PP-OCR served by Triton's Python backend on Paddle Inference.

The package is split by stage, so each piece can be tested without a server:
``imaging`` (decode and validate), ``detection`` (resize, DB post-processing, crops),
``classification`` and ``recognition`` (pre-processing, CTC decoding), ``predictor``
(Paddle Inference configuration), ``batching`` (grouping requests into predictor runs),
``pipeline`` (the stages in order) and ``triton`` (glue used by the ``model.py`` files).
"""

__version__ = "0.1.0"
