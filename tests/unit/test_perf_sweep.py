"""The sweep's configuration variants still apply to the repository and stay loadable."""

from __future__ import annotations

from paddle_python import options
from perf.harness import variant_repository
from perf.sweep import VARIANTS


def test_every_variant_applies(tmp_path):
    for name, overrides in VARIANTS.items():
        repo = variant_repository(tmp_path / "repo", overrides)
        for model in overrides:
            options.load_model_config(repo / model)  # still parses


def test_rec_batches_of_at_most_4_cut_the_warmup_to_match(tmp_path):
    repo = variant_repository(tmp_path / "repo", VARIANTS["rec batches of at most 4"])
    config = options.load_model_config(repo / "text_rec")
    assert config["max_batch_size"] == 4
    assert options.parameters(config)["batch_sizes"] == "1,2,4"
    assert config["model_warmup"] and all(w["batch_size"] <= 4 for w in config["model_warmup"])


def test_without_dynamic_batching_drops_only_the_batcher(tmp_path):
    repo = variant_repository(tmp_path / "repo", VARIANTS["rec without dynamic batching"])
    config = options.load_model_config(repo / "text_rec")
    assert "dynamic_batching" not in config
    assert config["max_batch_size"] == 8 and config["model_warmup"]
