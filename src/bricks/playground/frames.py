"""What the page is sent about a session: the ``data`` message, the ``state`` frame, the
binary heatmap frame and the neurons' formulas (docs/playground-protocol.md).

Speed: the heatmap and the neuron thumbnails come from one batched forward over the grid
under ``no_grad``; the caller (:class:`~bricks.playground.session.Session`) holds the
session's lock while a frame is built.
"""

from __future__ import annotations

import math
import struct

import bricks
from bricks.backend import xp
from bricks.playground import schema
from bricks.playground.data import feature_matrix, feature_text

__all__ = ["data_message", "state_frame", "heatmap_frame", "formulas", "grid", "rounded",
           "finite"]

_HISTORY_POINTS = 500
_THUMB = 25


def finite(v):
    return v if v is not None and math.isfinite(v) else None


def rounded(a, decimals=4):
    """A nested list of ``a`` rounded in float64 (float32 would print 0.12340000271...)."""
    return xp.round(xp.asarray(a, dtype=xp.float64), decimals).tolist()


def _fmt(w):
    return f"{w:.3g}"


def grid(size):
    """The heatmap's points: ``size`` x ``size`` over the plane, row 0 at the top."""
    g = xp.linspace(-schema.DOMAIN, schema.DOMAIN, size, dtype=xp.float32)
    x1 = xp.tile(g, size)
    x2 = xp.repeat(g[::-1], size)
    return xp.stack([x1, x2], axis=1)


def data_message(s) -> dict:
    """The page's ``data`` message of session ``s``: every point with its label and split
    (the caller holds the session's lock)."""
    def part(mask):
        return {"x": rounded(s.X[mask]),
                "y": (s.y[mask].tolist() if s.task == "classification"
                      else rounded(s.y[mask]))}
    return {"type": "data", "version": s.data_version, "task": s.task,
            "n_classes": s.n_classes if s.task == "classification" else 1,
            "domain": [-schema.DOMAIN, schema.DOMAIN],
            "train": part(~s.is_test), "test": part(s.is_test)}


def _confusion(k, y, pred):
    m = xp.zeros((k, k), dtype=xp.int64)
    xp.add.at(m, (y.astype(xp.int64), pred), 1)
    return m.tolist()


def _heatmap_values(s, od):
    """(values, labels or None, vmin, vmax) of the heatmap from the output probabilities."""
    if s.task == "regression":
        return (od[:, 0], None, float(min(-1.0, s.y.min(initial=-1.0))),
                float(max(1.0, s.y.max(initial=1.0))))
    if s.n_classes == 2:
        values = (od[:, 0] + 1) / 2 if s.config["loss"] == "mse" else od[:, 0]
        return values, None, 0.0, 1.0
    return od.max(1), od.argmax(1), 0.0, 1.0


def heatmap_frame(s) -> bytes:
    """The output heatmap of session ``s`` as a compact binary frame.

    Little-endian: ``b"BKH1"``, u32 epoch, u32 data_version, u16 size, u8 flags (1 =
    labels follow), u8 0, f32 vmin, f32 vmax, then ``size*size`` u8 values (0..255
    over vmin..vmax, row-major, row 0 at the top), then as many u8 class labels for
    k classes. 2.5 KB for the default 50x50 map against ~73 KB of JSON state.
    """
    with s.lock:
        c = s.config
        size = c["heatmap_size"]
        key = (size, tuple(c["features"]))
        if s._grid_cache[0] != key:
            s._grid_cache = (key, bricks.tensor(feature_matrix(grid(size), c["features"])))
        s.model.eval()
        with bricks.no_grad():
            out = s.head.shown(s.model(s._grid_cache[1]))
        values, labels, vmin, vmax = _heatmap_values(s, out.data)
        epoch, data_version = s.epoch, s.data_version
    scaled = (values.astype(xp.float64) - vmin) * (255.0 / ((vmax - vmin) or 1.0))
    body = xp.clip(xp.rint(xp.nan_to_num(scaled)), 0, 255).astype(xp.uint8).tobytes()
    if labels is not None:
        body += labels.astype(xp.uint8).tobytes()
    head = struct.pack("<4sIIHBBff", b"BKH1", epoch & 0xFFFFFFFF, data_version,
                       size, 1 if labels is not None else 0, 0, vmin, vmax)
    return head + body


def state_frame(s, heatmap: bool = True) -> dict:
    """The page's ``state`` frame of session ``s`` (the caller holds its lock).

    With ``heatmap=False`` the heatmap's ``values`` and ``labels`` are left out (the
    page gets them from :func:`heatmap_frame`, 25x smaller).
    """
    c = s.config
    size = c["heatmap_size"]
    G = feature_matrix(grid(size), c["features"])
    s.model.eval()
    acts = [G]
    with bricks.no_grad():
        h = bricks.tensor(G)
        for k, mod in enumerate(s.model):
            h = mod(h)
            if k in s.capture:
                acts.append(h.data)
        out = s.head.shown(h)
    od = out.data
    values, labels, vmin, vmax = _heatmap_values(s, od)
    labels = None if labels is None else labels.tolist()
    acts.append(od if s.n_classes > 2 and s.task == "classification" else values[:, None])
    t = min(_THUMB, size)
    pick = xp.round(xp.linspace(0, size - 1, t)).astype(xp.int64)
    cells = (pick[:, None] * size + pick[None, :]).ravel()
    thumbs = [rounded(a[cells].T, 3) for a in acts]
    classif = s.task == "classification"
    n_tr = len(s.y_train)
    domain = [-schema.DOMAIN, schema.DOMAIN]
    return {
        "type": "state", "epoch": s.epoch, "status": s.status,
        "stop_reason": s.stop_reason, "data_version": s.data_version,
        "train_loss": finite(s.train_loss), "test_loss": finite(s.test_loss),
        "train_accuracy": (float((s._pred_train == s.y_train).mean())
                           if classif and n_tr else None),
        "test_accuracy": (float((s._pred_test == s.y_test).mean())
                          if classif and len(s.y_test) else None),
        "confusion": ({"train": _confusion(s.n_classes, s.y_train, s._pred_train),
                       "test": _confusion(s.n_classes, s.y_test, s._pred_test)}
                      if classif else None),
        "history": _thinned(s.history),
        "layers": [len(c["features"])] + c["hidden"] + [s.n_outputs],
        "features": list(c["features"]),
        "heatmap": ({"size": size, "domain": domain, "values": rounded(values),
                     "labels": labels, "vmin": vmin, "vmax": vmax} if heatmap else
                    {"size": size, "domain": domain, "binary": True, "vmin": vmin,
                     "vmax": vmax}),
        "neurons": {"size": t, "layers": thumbs},
        "formulas": formulas(s),
        "weights": [{"w": rounded(lin.weight.data), "b": rounded(lin.bias.data)}
                    for lin in s.linears],
        "grad_norms": [finite(g) for g in s.grad_norms],
        "lr": c["lr"],
    }


def _thinned(h):
    """The history with at most _HISTORY_POINTS epochs, picked evenly."""
    n = len(h["epoch"])
    if n <= _HISTORY_POINTS:
        idx = range(n)
    else:
        idx = sorted(set(xp.linspace(0, n - 1, _HISTORY_POINTS).round().astype(int)
                         .tolist()))
    return {key: [(finite(h[key][i]) if key != "epoch" else h[key][i]) for i in idx]
            for key in h}


def formulas(s) -> list[list[str]]:
    """A formula per neuron with the current weights, e.g. ``h1_0 = tanh(0.5*x1 + 0.1)``."""
    c = s.config
    names = [feature_text(f) for f in c["features"]]
    out = [list(names)]
    n_hidden = len(c["hidden"])
    for k, lin in enumerate(s.linears):
        W, b = lin.weight.data, lin.bias.data
        layer = []
        new_names = []
        for i in range(W.shape[0]):
            terms = " ".join(f"{'-' if w < 0 else '+'} {_fmt(abs(w))}*{n}"
                             for w, n in zip(W[i].tolist(), names))
            terms = terms[2:] if terms.startswith("+ ") else "-" + terms[2:]
            text = f"{terms} {'-' if b[i] < 0 else '+'} {_fmt(abs(float(b[i])))}"
            if k < n_hidden:
                if c["batch_norm"][k]:
                    text = f"BN({text})"
                name = f"h{k + 1}_{i}"
                layer.append(f"{name} = {c['activation'][k]}({text})")
            else:
                name = "out" if W.shape[0] == 1 else f"out_{i}"
                fn = s.head.output_name()
                layer.append(f"{name} = {fn}({text})" if fn else f"{name} = {text}")
            new_names.append(name)
        out.append(layer)
        names = new_names
    return out
