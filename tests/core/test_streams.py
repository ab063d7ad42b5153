"""The run's streams, made in plain Python, are numpy's SeedSequence streams to the last bit."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from sim.core.engine import Run
from sim.core.streams import Streams, _add_words, _Material, _seeded, _words
from tests.conftest import make_model

SEEDS = (0, 1, 7, 2**31, 2**32 - 1, 2**32, 2**64 + 5, 2**130 + 3, 12345678901234567890)
REPLICATIONS = (0, 1, 99, 65535, 10**7, 2**32 + 1)
KEYS = (0, 1, zlib.crc32(b"insider"), zlib.crc32(b"detector:audit"), 2**32 - 1, 2**40)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_stream_is_numpys_seedsequence_stream(seed):
    for replication in REPLICATIONS:
        streams = Streams(seed, replication)
        for key in KEYS:
            ours = streams.make(key)
            numpys = np.random.default_rng(np.random.SeedSequence(seed,
                                                                  spawn_key=(replication, key)))
            assert ours.bit_generator.state == numpys.bit_generator.state, (replication, key)
            assert (ours.random(3) == numpys.random(3)).all()


@pytest.mark.parametrize("n_words", [1, 4, 9])
@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
def test_the_seed_material_is_seedsequences_generate_state(n_words, dtype):
    for seed in SEEDS[:5]:
        pool = _add_words(_add_words(_seeded(seed), _words(3)), _words(77))[0]
        expected = np.random.SeedSequence(seed, spawn_key=(3, 77)).generate_state(n_words, dtype)
        got = _Material(pool).generate_state(n_words, dtype)
        assert got.dtype == expected.dtype and (got == expected).all()
    with pytest.raises(ValueError):
        _Material(pool).generate_state(2, np.int64)


def test_a_runs_rng_is_the_documented_stream():
    run = Run(make_model(), 5, 3)
    for name in ("insider", "insider:sessions", "triage", "detector:audit"):
        key = zlib.crc32(name.encode("utf-8"))
        expected = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(3, key)))
        assert (run.rng(name).random(4) == expected.random(4)).all()


def test_numpy_integers_make_the_same_streams_as_python_ints():
    # numpy's SeedSequence takes numpy integers; their own arithmetic would wrap or warn here
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = Streams(np.uint64(2**64 - 1), np.int64(3)).make(np.uint32(7)).random(4)
    want = np.random.default_rng(np.random.SeedSequence(2**64 - 1, spawn_key=(3, 7))).random(4)
    assert (got == want).all()


def test_a_stream_spawns_the_children_numpys_stream_would():
    # Generator.spawn (numpy >= 1.25) asks the seed material for children: they are numpy's
    # SeedSequence's, and a second call continues the count instead of repeating the first
    ours = Streams(7, 3).make(zlib.crc32(b"insider"))
    numpys = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(3, zlib.crc32(b"insider"))))
    for _ in range(2):
        for a, b in zip(ours.spawn(2), numpys.spawn(2), strict=True):
            assert (a.random(3) == b.random(3)).all()
    assert ours.random() == numpys.random()  # spawning draws nothing from the parent
    with pytest.raises(TypeError, match="without its seed"):
        _Material((1, 2, 3, 4)).spawn(1)
