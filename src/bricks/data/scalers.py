"""Feature scalers with scikit-learn's numbers: fit on the training set only, then transform
train and test alike; ``state_dict`` holds plain arrays and numbers, saved with the model."""

from __future__ import annotations

from bricks import backend
from bricks.backend import xp
from bricks.tensor import Tensor, const

__all__ = ["StandardScaler", "MinMaxScaler"]


class _Scaler:
    """Shared plumbing: input checks, arrays and Tensors in and out, state dicts."""

    _state_arrays: tuple = ()
    _state_values: tuple = ()

    def _check_fitted(self, where: str):
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__}.{where}: this scaler is not fitted yet; "
                               f"call fit(X_train) first")

    def _input(self, X, where: str, fitting: bool = False):
        """X as a float64 NumPy array (N, D), plus how to give the result back."""
        is_tensor = isinstance(X, Tensor)
        data = X.data if is_tensor else X
        if not (isinstance(data, backend.ndarray) or backend.get_array_module(data) is not xp):
            data = xp.asarray(data)
        if data.dtype.kind not in "biuf":
            raise TypeError(f"{type(self).__name__}.{where}: expected numbers, got dtype "
                            f"{data.dtype}")
        if data.ndim != 2:
            raise ValueError(f"{type(self).__name__}.{where}: expected a 2-D array (n_samples, "
                             f"n_features), got shape {tuple(data.shape)}"
                             + ("; use X.reshape(-1, 1) for a single feature"
                                if data.ndim == 1 else ""))
        if fitting and data.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}.{where}: cannot fit on 0 samples")
        if not fitting:
            self._check_fitted(where)
            if data.shape[1] != self.n_features_in_:
                raise ValueError(f"{type(self).__name__}.{where}: X has {data.shape[1]} "
                                 f"features, but the scaler was fitted with "
                                 f"{self.n_features_in_} features")
        # Floats keep their dtype on the way out (as scikit-learn); integers become float64
        # for arrays and the default float dtype for Tensors.
        if data.dtype.kind == "f":
            out_dtype = data.dtype
        else:
            out_dtype = backend.get_default_dtype() if is_tensor else backend.float64
        mod = backend.get_array_module(data)
        return mod.asarray(data, dtype=mod.float64), (is_tensor, out_dtype)

    @staticmethod
    def _output(result, how):
        is_tensor, dtype = how
        result = result.astype(dtype, copy=False)
        return const(result) if is_tensor else result

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def state_dict(self) -> dict:
        """The fitted statistics as NumPy float64 arrays and plain (JSON-able) numbers."""
        self._check_fitted("state_dict")
        state = {k: backend.to_numpy(getattr(self, k + "_")).copy() for k in self._state_arrays}
        for k in self._state_values:
            v = getattr(self, k)
            state[k] = list(v) if isinstance(v, tuple) else v
        state["n_features_in"] = int(self.n_features_in_)
        state["n_samples_seen"] = int(self.n_samples_seen_)
        return state

    def load_state_dict(self, state: dict):
        """Restore a state from ``state_dict()`` (arrays or lists are both accepted)."""
        expected = set(self._state_arrays) | set(self._state_values) | {"n_features_in",
                                                                         "n_samples_seen"}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                           f"unexpected keys {extra}")
        d = int(state["n_features_in"])
        for k in self._state_arrays:
            if state[k] is None:
                setattr(self, k + "_", None)
                continue
            arr = xp.asarray(state[k], dtype=xp.float64)
            if arr.shape != (d,):
                raise ValueError(f"{type(self).__name__}.load_state_dict: '{k}' has shape "
                                 f"{arr.shape}, expected ({d},)")
            setattr(self, k + "_", arr.copy())
        for k in self._state_values:
            v = state[k]
            setattr(self, k, tuple(v) if isinstance(v, list) else v)
        self.n_features_in_ = d
        self.n_samples_seen_ = int(state["n_samples_seen"])
        self._fitted = True
        return self


class StandardScaler(_Scaler):
    """Standardize features: ``z = (x - mean) / scale``, with the mean and the population
    standard deviation (ddof=0) of the training data, per feature, as scikit-learn.

    Features that are constant (to rounding) get ``scale = 1`` instead of dividing by zero.
    Statistics are computed in float64; outputs keep the input's floating dtype.

    Args:
        with_mean: subtract the mean (else mean_ is None and nothing is subtracted).
        with_std: divide by the standard deviation (else scale_ is None).

    Attributes (after ``fit``): ``mean_``, ``var_``, ``scale_`` (shape (D,)),
    ``n_features_in_``, ``n_samples_seen_``.

    Example:
        >>> sc = bricks.data.StandardScaler().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
        >>> sc.transform(np.array([[1.0, 5.0], [3.0, 6.0]]))
        array([[0., 0.],
               [2., 1.]])
    """

    _state_arrays = ("mean", "var", "scale")
    _state_values = ("with_mean", "with_std")

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = bool(with_mean)
        self.with_std = bool(with_std)
        self._fitted = False

    def fit(self, X):
        """Compute the mean and standard deviation of X, shape (N, D), per feature."""
        X, _ = self._input(X, "fit", fitting=True)
        mod = backend.get_array_module(X)
        n = X.shape[0]
        mean = X.mean(axis=0)
        var = ((X - mean) ** 2).mean(axis=0)
        # scikit-learn's test for a constant feature: a variance within the rounding error
        # bound of the two-pass algorithm (Chan, Golub, LeVeque).
        eps = mod.finfo(mod.float64).eps
        constant = var <= n * eps * var + (n * mean * eps) ** 2
        scale = mod.where(constant, 1.0, mod.sqrt(var))
        self.mean_ = mean if self.with_mean else None
        self.var_ = var if self.with_std else None
        self.scale_ = scale if self.with_std else None
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = n
        self._fitted = True
        return self

    def transform(self, X):
        """``(X - mean_) / scale_``; X of shape (M, D), an array or a Tensor."""
        X, how = self._input(X, "transform")
        if self.with_mean:
            X = X - self.mean_
        if self.with_std:
            X = X / self.scale_
        return self._output(X, how)

    def inverse_transform(self, X):
        """``X * scale_ + mean_``: back to the original units."""
        X, how = self._input(X, "inverse_transform")
        if self.with_std:
            X = X * self.scale_
        if self.with_mean:
            X = X + self.mean_
        return self._output(X, how)

    def __repr__(self) -> str:
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std})"


class MinMaxScaler(_Scaler):
    """Scale each feature to ``feature_range = (a, b)``:
    ``x' = (x - min) / (max - min) * (b - a) + a``, as scikit-learn.

    Computed as ``x' = x * scale_ + min_`` with ``scale_ = (b - a) / data_range_`` and
    ``min_ = a - data_min_ * scale_``; a constant feature (range 0) uses range 1.

    Args:
        feature_range: (a, b) with a < b.
        clip: clip transformed values to the range (for test data outside the train range).

    Attributes (after ``fit``): ``min_``, ``scale_``, ``data_min_``, ``data_max_``,
    ``data_range_`` (shape (D,)), ``n_features_in_``, ``n_samples_seen_``.

    Example:
        >>> sc = bricks.data.MinMaxScaler().fit(np.array([[0.0], [4.0]]))
        >>> sc.transform(np.array([[1.0], [8.0]]))
        array([[0.25],
               [2.  ]])
    """

    _state_arrays = ("min", "scale", "data_min", "data_max", "data_range")
    _state_values = ("feature_range", "clip")

    def __init__(self, feature_range=(0, 1), clip: bool = False):
        try:
            a, b = feature_range
        except (TypeError, ValueError):
            raise ValueError(f"MinMaxScaler: feature_range must be a pair (min, max), got "
                             f"{feature_range!r}") from None
        if not a < b:
            raise ValueError(f"MinMaxScaler: minimum of desired feature range must be smaller "
                             f"than maximum, got {feature_range!r}")
        self.feature_range = (a, b)
        self.clip = bool(clip)
        self._fitted = False

    def fit(self, X):
        """Compute the per-feature minimum and maximum of X, shape (N, D)."""
        X, _ = self._input(X, "fit", fitting=True)
        mod = backend.get_array_module(X)
        a, b = self.feature_range
        self.data_min_ = X.min(axis=0)
        self.data_max_ = X.max(axis=0)
        self.data_range_ = self.data_max_ - self.data_min_
        # scikit-learn's _handle_zeros_in_scale: a range within rounding of 0 counts as 1.
        safe = mod.where(self.data_range_ < 10 * mod.finfo(mod.float64).eps, 1.0,
                         self.data_range_)
        self.scale_ = (b - a) / safe
        self.min_ = a - self.data_min_ * self.scale_
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = X.shape[0]
        self._fitted = True
        return self

    def transform(self, X):
        """``X * scale_ + min_``; X of shape (M, D), an array or a Tensor."""
        X, how = self._input(X, "transform")
        out = X * self.scale_ + self.min_
        if self.clip:
            out = backend.get_array_module(out).clip(out, *self.feature_range)
        return self._output(out, how)

    def inverse_transform(self, X):
        """``(X - min_) / scale_``: back to the original units."""
        X, how = self._input(X, "inverse_transform")
        return self._output((X - self.min_) / self.scale_, how)

    def __repr__(self) -> str:
        return f"MinMaxScaler(feature_range={self.feature_range}, clip={self.clip})"
