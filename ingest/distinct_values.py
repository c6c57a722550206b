"""Computing something of each row of an Arrow column once per distinct value.

Billing columns repeat heavily, row after row and batch after batch (a month of hourly charges
has 744 start times; a file a few dozen services), so the loader computes per distinct value in
Python and spreads the results over the rows with Arrow's `take`.
"""

from collections.abc import Callable, Hashable

import numpy as np
import pyarrow as pa


def per_distinct(
    column: pa.Array, remembered: dict[Hashable, object], function: Callable, result_type: pa.DataType, *, limit: int
) -> pa.Array:
    """`function(value)` of each row's value, each distinct value computed once and remembered
    (in `remembered`, emptied beyond `limit` entries) for later batches."""
    encoded = column.dictionary_encode()
    if len(remembered) > limit:
        remembered.clear()
    results = []
    for value in encoded.dictionary.to_pylist():
        if value not in remembered:
            remembered[value] = function(value)
        results.append(remembered[value])
    return pa.array(results, result_type).take(encoded.indices)


class IntegerKeyMemo:
    """`compute(keys)` of 64-bit integer keys (such as timestamps' microseconds), each key
    computed once and looked up vectorised thereafter: no Python per row, nor per repeated key.
    Beyond `limit` keys the memo starts afresh."""

    def __init__(self, compute: Callable[[np.ndarray], pa.Array], *, limit: int):
        self._compute = compute
        self._limit = limit
        self._clear()

    def _clear(self) -> None:
        self._keys = np.empty(0, dtype=np.int64)  # ascending
        self._positions = np.empty(0, dtype=np.int64)  # of each key's result in self._results
        self._results: pa.Array | None = None

    def of(self, keys: np.ndarray) -> pa.Array:
        if len(keys) > 1 and keys[0] == keys[-1] and (keys == keys[0]).all():  # one value, as a billing period
            return self.of(keys[:1]).take(np.zeros(len(keys), dtype=np.int64))
        # Looked up first, and only the keys not found are made distinct: after the first
        # batches nearly every key is known, and np.unique of them all cost more than the rest.
        index, unknown = self._lookup(keys)
        if unknown.any():
            new = np.unique(keys[unknown])
            if len(self._keys) + len(new) > self._limit:
                self._clear()
                new = np.unique(keys)
            self._learn(new)
            index, _ = self._lookup(keys)
        return self._results.take(self._positions[index])

    def _lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each key's index in self._keys (meaningless where not known), and which keys are not."""
        if not len(self._keys):
            return np.zeros(len(keys), dtype=np.int64), np.ones(len(keys), dtype=bool)
        index = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return index, self._keys[index] != keys

    def _learn(self, keys: np.ndarray) -> None:
        results = self._compute(keys)
        first_position = 0 if self._results is None else len(self._results)
        self._results = results if self._results is None else pa.concat_arrays([self._results, results])
        all_keys = np.concatenate([self._keys, keys])
        all_positions = np.concatenate([self._positions, np.arange(first_position, first_position + len(keys))])
        order = np.argsort(all_keys, kind="stable")
        self._keys, self._positions = all_keys[order], all_positions[order]
