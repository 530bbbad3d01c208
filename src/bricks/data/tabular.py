"""Tables from files, as ``bricks train --data FILE`` reads them: CSV and NPZ.

:func:`read_csv` streams the file row by row into a float32 buffer, so a table takes about
4 bytes per number in memory (not the ~100 of a list of Python strings), and never holds
the text of the whole file.  :func:`read_npz_xy` reads the ``X``/``y`` arrays of an
``.npz`` file through :func:`bricks.io.read_npz`, which checks every member's size before
expanding it (no zip bombs, no pickles).  Both refuse pipes, devices and oversized files
(:func:`bricks.io.open_regular`).
"""

from __future__ import annotations

import csv
import io
import os
from array import array

from bricks.backend import xp
from bricks.io import open_regular, read_npz

__all__ = ["TableError", "read_csv", "read_npz_xy"]


class TableError(ValueError):
    """A data file that cannot be read as a table; the message names the file and where."""


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def read_csv(path, target=None, *, has_target: bool = True):
    """Read a CSV table of numbers, with an optional header row and a target column.

    The first non-empty row is a header when any of its cells is not a number.  Rows that
    are empty or blank are skipped; every other row must have the same number of cells.

    Args:
        path: the file (UTF-8, an optional byte-order mark).
        target: the target column, by header name or 0-based index (negative counts from
            the end); default: the last column.
        has_target: False: every column is a feature (for inputs to predict).

    Returns:
        ``(X, y, classes, header)``: ``X`` float32 ``(N, F)``; ``y`` float64 ``(N,)`` when
        every target is a number (``classes`` None), else int64 codes into ``classes``,
        the sorted distinct target texts; ``header`` the column names or None.  Without a
        target ``y`` and ``classes`` are None.

    Raises:
        FileNotFoundError: no such file.
        TableError: not CSV, no data rows, ragged rows, a feature that is not a number, an
            unknown target column.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> _ = open(path, "w").write("a,b,label\\n1,2,cat\\n3,4,dog\\n5,6,cat\\n")
        >>> X, y, classes, header = bricks.data.tabular.read_csv(path, target="label")
        >>> X.tolist(), y.tolist(), classes, header
        ([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [0, 1, 0], ['cat', 'dog'], ['a', 'b', 'label'])
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"file not found: {path}")
    features = array("f")
    y_numbers = array("d")
    y_texts = None  # a list of (interned) strings once a target is not a number
    header, width, col, rows = None, None, None, 0
    try:
        with open_regular(path, what="CSV file") as raw, \
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            for row in reader:
                if not row or not any(c.strip() for c in row):
                    continue
                if width is None:
                    width = len(row)
                    if has_target and width < 2:
                        raise TableError(f"{path}: needs at least one feature column and a "
                                         f"target column")
                    if not all(_number(c) is not None for c in row):
                        header = [c.strip() for c in row]
                        col = _target_column(path, target, header, width) if has_target \
                            else None
                        continue
                    col = _target_column(path, target, None, width) if has_target else None
                if len(row) != width:
                    raise TableError(f"{path}: line {reader.line_num} has {len(row)} "
                                     f"columns, expected {width}")
                for j, cell in enumerate(row):
                    if j == col:
                        text = cell.strip()
                        value = _number(text) if y_texts is None else None
                        if value is not None:
                            y_numbers.append(value)
                            continue
                        if y_texts is None:  # the first text: the column is labels
                            y_texts = [_label_text(v) for v in y_numbers]
                            interned = {t: t for t in y_texts}
                        y_texts.append(interned.setdefault(text, text))
                        continue
                    value = _number(cell)
                    if value is None:
                        name = header[j] if header else f"column {j}"
                        raise TableError(f"{path}: line {reader.line_num}, {name}: features "
                                         f"must be numbers, got {cell[:40]!r}")
                    features.append(value)
                rows += 1
    except UnicodeDecodeError as err:
        raise TableError(f"cannot read {path} as CSV: not UTF-8 text ({err})") from None
    except csv.Error as err:
        raise TableError(f"cannot read {path} as CSV: {err}") from None
    if rows == 0:
        raise TableError(f"{path} holds no data rows")
    n_features = width - (col is not None)
    X = xp.frombuffer(features, dtype=xp.float32).reshape(rows, n_features)
    if not has_target:
        return X, None, None, header
    if y_texts is None:
        return X, xp.frombuffer(y_numbers, dtype=xp.float64), None, header
    classes = sorted(set(y_texts))
    code = {c: i for i, c in enumerate(classes)}
    y = xp.fromiter((code[t] for t in y_texts), dtype=xp.int64, count=rows)
    return X, y, classes, header


def _label_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _target_column(path, target, header, width) -> int:
    if target is None:
        return width - 1
    target = str(target)
    if header is not None and target in header:
        return header.index(target)
    if target.lstrip("-").isdigit() and -width <= int(target) < width:
        return int(target) % width
    names = ", ".join(header) if header else f"indices 0..{width - 1}"
    raise TableError(f"{path}: no target column {target!r}; columns: {names}")


def read_npz_xy(path, target=None):
    """``(X, y)`` from an ``.npz`` file: features under ``X`` (or ``x``, ``inputs``,
    ``features``), targets under ``target`` (default ``y``), each checked for size and
    pickles before it is expanded (:func:`bricks.io.read_npz`).

    Raises:
        FileNotFoundError: no such file.
        TableError: the arrays are not there.
        bricks.io.CheckpointError: not a safe, readable npz file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"file not found: {path}")
    arrays = read_npz(path)
    key = target or "y"
    xkey = next((k for k in ("X", "x", "inputs", "features") if k in arrays), None)
    if key not in arrays or xkey is None:
        raise TableError(f"{path}: expected features under 'X' and targets under {key!r}; "
                         f"the file has {', '.join(arrays) or 'no arrays'}")
    return arrays[xkey], arrays[key]
