"""The run's numpy streams, made faster to the same numbers.

Stream ``key`` of replication ``r`` under seed ``s`` is the generator numpy makes from
``SeedSequence(s, spawn_key=(r, key))`` (PCG64). Making one through numpy costs ~17 us
(``SeedSequence`` ~8 us, PCG64's seeding from it ~9 us), and a replication makes about ten of
them: a sizable share of a short replication. :class:`Streams` computes the same seed
material in plain Python instead, reusing what streams share: SeedSequence mixes its entropy
words into its pool one after another, and every stream of a replication starts with the same
words (the seed's, then the replication's), so the pool after those is computed once per
replication (after the seed's words, once per seed), and each stream adds only its key's word.

The algorithm is numpy's SeedSequence (numpy/random/bit_generator.pyx: ``mix_entropy``,
``hashmix``, ``mix``, ``generate_state``), a documented, stable one (numpy keeps its streams
reproducible across versions); tests/core/test_streams.py checks the results against numpy's
own, draw for draw, over many seeds, replications and keys.
"""

from __future__ import annotations

import functools
import operator

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

_MASK = 0xFFFFFFFF
_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_MULT_L = 0xCA01F9DD
_MIX_MULT_R = 0x4973F715
_POOL_SIZE = 4

#: (pool, hash constant) of SeedSequence's mixing after some of its entropy words
_State = tuple[tuple[int, ...], int]


def _words(n: int) -> list[int]:
    """A non-negative int as 32-bit words, least significant first (0: one word)."""
    if n < 0:
        raise ValueError("seeds and spawn keys are non-negative")
    out = [n & _MASK]
    n >>= 32
    while n:
        out.append(n & _MASK)
        n >>= 32
    return out


def _add_words(state: _State, words: list[int]) -> _State:
    """Mix further entropy words into the pool (the last loop of ``mix_entropy``)."""
    pool, h = list(state[0]), state[1]
    for w in words:
        for i in range(_POOL_SIZE):
            # hashmix(w)
            v = w ^ h
            h = (h * _MULT_A) & _MASK
            v = (v * h) & _MASK
            v ^= v >> 16
            # mix(pool[i], v)
            r = (_MIX_MULT_L * pool[i] - _MIX_MULT_R * v) & _MASK
            pool[i] = r ^ (r >> 16)
    return tuple(pool), h


@functools.lru_cache(maxsize=64)
def _seeded(seed: int) -> _State:
    """The pool after the seed's words, padded to the pool size (a spawn key follows)."""
    words = _words(seed)
    if len(words) < _POOL_SIZE:
        words += [0] * (_POOL_SIZE - len(words))
    h = _INIT_A
    pool = []
    for w in words[:_POOL_SIZE]:  # hashmix each word into its pool slot
        v = w ^ h
        h = (h * _MULT_A) & _MASK
        v = (v * h) & _MASK
        pool.append(v ^ (v >> 16))
    for src in range(_POOL_SIZE):  # mix every slot into every other
        for dst in range(_POOL_SIZE):
            if src != dst:
                v = pool[src] ^ h
                h = (h * _MULT_A) & _MASK
                v = (v * h) & _MASK
                v ^= v >> 16
                r = (_MIX_MULT_L * pool[dst] - _MIX_MULT_R * v) & _MASK
                pool[dst] = r ^ (r >> 16)
    return _add_words((tuple(pool), h), words[_POOL_SIZE:])


def _constants(h: int, mult: int, n: int) -> tuple[int, ...]:
    """``h, h*mult, h*mult^2, ...`` (mod 2^32): the hash constants of ``n`` hashmix steps."""
    out = [h]
    for _ in range(n):
        h = (h * mult) & _MASK
        out.append(h)
    return tuple(out)


#: the hash constants of generate_state's 8 steps (4 64-bit words): they start at INIT_B
_OUT = _constants(_INIT_B, _MULT_B, 8)


class _Material:
    """What PCG64 asks a seed sequence for: four 64-bit words (``generate_state(4, uint64)``),
    computed from the pool as SeedSequence does.

    ``spawn(n)`` (what ``Generator.spawn`` and ``BitGenerator.spawn`` call) returns the
    children numpy's own ``SeedSequence(entropy, spawn_key=spawn_key)`` would, counting
    children across calls as it does; that sequence is built only when first asked.
    """

    __slots__ = ("_pool", "_entropy", "_spawn_key", "_sequence")

    def __init__(self, pool: tuple[int, ...], entropy: int | None = None,
                 spawn_key: tuple[int, ...] = ()) -> None:
        self._pool = pool
        self._entropy = entropy
        self._spawn_key = spawn_key
        self._sequence: np.random.SeedSequence | None = None

    def spawn(self, n_children: int) -> list[np.random.SeedSequence]:
        if self._entropy is None:
            raise TypeError("this seed material was made without its seed: it cannot spawn")
        if self._sequence is None:
            self._sequence = np.random.SeedSequence(self._entropy, spawn_key=self._spawn_key)
        return self._sequence.spawn(n_children)

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        wide = np.dtype(dtype) == np.dtype(np.uint64)
        if not wide and np.dtype(dtype) != np.dtype(np.uint32):
            raise ValueError("only support uint32 or uint64")
        n = 2 * n_words if wide else n_words
        pool = self._pool
        c = _OUT if n <= 8 else _constants(_INIT_B, _MULT_B, n)
        out = []
        for i in range(n):
            v = ((pool[i & 3] ^ c[i]) * c[i + 1]) & _MASK
            out.append(v ^ (v >> 16))
        if wide:  # little-endian pairs of 32-bit words
            return np.array([out[k] | (out[k + 1] << 32) for k in range(0, n, 2)],
                            dtype=np.uint64)
        return np.array(out, dtype=np.uint32)


ISpawnableSeedSequence.register(_Material)


class Streams:
    """The streams of replication ``replication`` under ``seed``: ``make(key)`` returns the
    generator numpy makes from ``SeedSequence(seed, spawn_key=(replication, key))``."""

    __slots__ = ("_state", "_pool", "_hash", "_seed", "_replication")

    def __init__(self, seed: int, replication: int) -> None:
        # numpy integers as Python ints (their arithmetic would wrap or warn)
        seed, replication = operator.index(seed), operator.index(replication)
        self._seed, self._replication = seed, replication
        self._state = _add_words(_seeded(seed), _words(replication))
        self._pool = self._state[0]
        #: the hash constants of the 4 steps that mix a one-word key into the pool
        self._hash = _constants(self._state[1], _MULT_A, 4)

    def make(self, key: int) -> np.random.Generator:
        key = operator.index(key)
        if 0 <= key <= _MASK:  # one word (a crc32): _add_words unrolled
            c, pool = self._hash, list(self._pool)
            for i in range(4):
                v = ((key ^ c[i]) * c[i + 1]) & _MASK
                v ^= v >> 16
                r = (_MIX_MULT_L * pool[i] - _MIX_MULT_R * v) & _MASK
                pool[i] = r ^ (r >> 16)
            pool = tuple(pool)
        else:
            pool = _add_words(self._state, _words(key))[0]
        return np.random.Generator(np.random.PCG64(
            _Material(pool, self._seed, (self._replication, key))))
