"""stats.transpose(List[List[float]]) -> (List[List[float]]): transpose a matrix.

Shows a nested list type. Rows of unequal length raise ValueError.
"""


def transpose(rows: list[list[float]]) -> list[list[float]]:
    """Return the transpose of rows, e.g. [[1, 2], [3, 4]] -> [[1, 3], [2, 4]]."""
    if any(len(row) != len(rows[0]) for row in rows):
        raise ValueError("all rows must have the same length")
    return [[float(x) for x in column] for column in zip(*rows)]
