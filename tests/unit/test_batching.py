import numpy as np
import pytest

from paddle_python.batching import even_chunks, group_by_shape, run_batched, split_batch


@pytest.mark.parametrize("count,sizes,expected", [
    (7, (1, 2, 4), [4, 2, 1]),
    (16, (1, 4, 16), [16]),
    (9, (4,), [4, 4, 1]),  # 1 is always allowed
    (0, (1, 2), []),
])
def test_split_batch(count, sizes, expected):
    assert split_batch(count, sizes) == expected


@pytest.mark.parametrize("count,most,expected", [
    (9, 4, [3, 3, 3]),  # not 4 + 4 + 1: the callee's instances get equal shares
    (6, 4, [3, 3]),
    (7, 4, [4, 3]),
    (8, 4, [4, 4]),
    (3, 4, [3]),
    (1, 8, [1]),
    (0, 4, []),
])
def test_even_chunks(count, most, expected):
    chunks = even_chunks(count, most)
    assert chunks == expected
    assert sum(chunks) == count and all(0 < c <= most for c in chunks)


def test_run_batched_stacks_same_shapes_and_keeps_each_inputs_rows():
    inputs = [np.full((2, 3), 1.0), np.full((1, 5), 2.0), np.full((3, 3), 3.0), np.zeros((0, 3))]
    calls = []

    def run(batch):
        calls.append(batch.shape)
        return batch.sum(axis=1, keepdims=True)

    out = run_batched(inputs, run, sizes=lambda width: (1, 2, 4))
    assert sorted(calls) == sorted([(4, 3), (1, 3), (1, 5)])  # five rows of width 3: 4 + 1
    assert out[0].tolist() == [[3.0], [3.0]]
    assert out[1].tolist() == [[10.0]]
    assert out[2].tolist() == [[9.0]] * 3
    assert len(out[3]) == 0


def test_run_batched_asks_for_the_batch_sizes_of_each_width():
    inputs = [np.zeros((4, 8)), np.zeros((4, 2))]
    calls = []

    def run(batch):
        calls.append(batch.shape)
        return batch

    run_batched(inputs, run, sizes=lambda width: (4,) if width == 2 else (2,))
    assert sorted(calls) == [(2, 8), (2, 8), (4, 2)]


def test_group_by_shape_skips_empty_inputs():
    groups = group_by_shape([np.zeros((1, 2)), np.zeros((0, 2)), np.zeros((3, 2)), np.zeros((1, 4))])
    assert groups == {(2,): [0, 2], (4,): [3]}
