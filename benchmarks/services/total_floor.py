"""The interpreter's part of every `total` call, with no argument to read.

The same 100,000 floats as the bench's `total` request are made into a list by CPython
itself (`array.tolist` calls `PyFloat_FromDouble` for each), summed and freed. Its CPU per
call is what the interpreter spends on `total` whatever reads the request: the floor under
the bulk-data rows, which pyrpc's readers meet by making their floats a little more cheaply.
"""
import array
import math

_VALUES = array.array("d", (math.sqrt(i + 0.5) * 3.7 for i in range(100_000)))


def total_floor():
    return sum(_VALUES.tolist())
