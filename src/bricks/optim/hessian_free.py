"""Hessian-free optimization (truncated Newton, Martens 2010).

Newton's step solves ``H p = -g``; for a network with a million weights ``H`` has 10^12
entries and cannot even be stored.  But the *linear* conjugate-gradient method solves
``A p = b`` touching ``A`` only through products ``A v``, and a curvature-vector product
costs about two backward passes, by double backward, without ever forming the matrix:

* Hessian-vector product ``H v = d/dw (g . v)``;
* Gauss-Newton-vector product ``G v = J^T H_L J v`` (``J = dz/dw`` the Jacobian of the
  model's outputs ``z``, ``H_L`` the Hessian of the loss in ``z``): positive semidefinite
  for convex losses (MSE, cross-entropy), which makes CG well behaved; Martens' choice.

A few dozen CG iterations give a good approximate Newton step ("truncated Newton").
"""

from __future__ import annotations

from bricks.autograd import enable_grad, grad
from bricks.functions.creation import zeros_like
from bricks.optim import _flat
from bricks.optim._line_search import backtracking
from bricks.optim.closure import ClosureOptimizer
from bricks.optim.newton import _graph_grads
from bricks.tensor import Tensor

__all__ = ["HessianFree"]

_CURVATURES = ("hessian", "gauss-newton")


class HessianFree(ClosureOptimizer):
    r"""Hessian-free (truncated Newton) optimization: CG on curvature-vector products.

    Each ``step(closure)`` is one outer iteration on the flat parameter vector ``w`` with
    gradient ``g`` and curvature ``B`` (the Hessian ``H`` or the Gauss-Newton matrix
    ``G = J^T H_L J``, chosen by ``curvature``):

    1. **Damped quadratic model** (Tikhonov damping ``lambda``):
       ``q(p) = g^T p + 1/2 p^T (B + lambda I) p``, minimized by *linear CG*, which needs
       only products ``(B + lambda I) v``.  From ``p_0``, residual ``r_0 = A p_0 + g``,
       ``d_0 = -r_0``::

           alpha = r.r / d^T A d;   p = p + alpha d;   r' = r + alpha A d
           beta  = r'.r' / r.r;     d = -r' + beta d

       CG starts from the previous step's solution times ``cg_decay`` (warm start:
       consecutive Newton steps are alike), runs at most ``cg_max_iter`` iterations and
       stops early on Martens' criterion (the model's relative decrease over the last
       ``k = max(10, i/10)`` iterations below ``k * 5e-4``), on a small residual
       (``|r| <= cg_tol |g|``) or on a direction of non-positive curvature (possible with
       ``curvature='hessian'``; that direction then gets the step of the damping alone).
    2. **Levenberg-Marquardt adjustment** from the reduction ratio of the full step,
       ``rho = (f(w + p) - f(w)) / (g^T p + 1/2 p^T B p)`` (actual over predicted
       decrease): ``lambda *= 3/2`` if ``rho < 1/4``, ``lambda *= 2/3`` if ``rho > 3/4``.
    3. **Backtracking**: ``w <- w + t p`` with the first of ``t = lr, 0.8 lr, 0.8^2 lr...``
       that satisfies the Armijo condition (``c1 = 1e-2``, Martens' choice); if none does,
       ``w`` stays.

    Not included from Martens (2010): the diagonal preconditioner, CG-iterate backtracking
    and mini-batch curvature.

    When to use: full- or large-batch training of small to medium networks on hard
    (ill-conditioned) objectives, where first-order methods crawl; each step costs a few
    dozen gradient evaluations.

    **Closure contract.**  The closure re-evaluates the model; it may call ``backward()``
    as PyTorch's LBFGS closure does (the graph is kept for HessianFree's own double
    backward) or not, and runs under ``no_grad`` during the line search (where its
    ``backward()`` does nothing).  It returns:

    * ``curvature='hessian'`` (default): the loss, a single-element Tensor;
    * ``curvature='gauss-newton'``: a tuple ``(loss, outputs)``, ``outputs`` the model's
      output Tensor ``z`` that the loss was computed from.  The Gauss-Newton matrix is that
      of ``loss`` as a function of ``outputs``; terms that reach the parameters some other
      way (an L2 penalty) count in the gradient but not in the curvature.

    Args:
        params: the parameters (one group only).
        lr: the first trial step of the backtracking (default 1).
        damping: the initial Tikhonov damping ``lambda`` (default 1).
        curvature: ``'hessian'`` (default) or ``'gauss-newton'``.
        cg_max_iter: the most CG iterations per step (default 100).
        cg_tol: stop CG when ``|r| <= cg_tol |g|`` (default 1e-10).
        cg_decay: the warm start scale ``zeta`` (default 0.95; 0 disables warm starts).
        tolerance_grad: no step once ``max|g|`` is at most this (default 1e-10).
        max_ls: the most backtracking trials (default 20).

    Returns (``step``): the loss at the starting point.  Flat state (in ``state_dict()``):
    ``damping``, ``p_prev`` (the last CG solution), ``cg_iters``, ``rho``, ``n_iter``,
    ``func_evals``.

    Example:
        >>> import bricks.optim
        >>> w = bricks.tensor([-1.2, 1.0], dtype=bricks.float64, requires_grad=True)
        >>> opt = bricks.optim.HessianFree([w], damping=1e-2)
        >>> def closure():   # the loss alone; LBFGS's closure (with backward) works too
        ...     return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2   # Rosenbrock
        >>> for _ in range(60):
        ...     _ = opt.step(closure)
        >>> [round(v, 6) for v in w.tolist()]
        [1.0, 1.0]
    """

    closure_does_backward = False  # it differentiates the loss twice itself
    _closure_example = ("def closure(): opt.zero_grad(); loss = loss_fn(model(x), y); "
                        "loss.backward(); return loss  (with curvature='gauss-newton': "
                        "return loss, outputs)")

    def __init__(self, params, lr=1.0, damping=1.0, curvature="hessian", cg_max_iter=100,
                 cg_tol=1e-10, cg_decay=0.95, tolerance_grad=1e-10, max_ls=20):
        defaults = dict(lr=lr, damping=damping, curvature=curvature, cg_max_iter=cg_max_iter,
                        cg_tol=cg_tol, cg_decay=cg_decay, tolerance_grad=tolerance_grad,
                        max_ls=max_ls)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_newton_options(group)
        if "curvature" in group and group["curvature"] not in _CURVATURES:
            raise self._invalid("curvature", group["curvature"], "'hessian' or 'gauss-newton'")
        self._check_int(group, "cg_max_iter")
        self._require(group, "cg_tol")
        self._require(group, "cg_decay", 0.0, 1.0)

    # ------------------------------------------------------------ curvature products
    def _hessian_product(self, grads):
        params = self._params

        live = [i for i, g in enumerate(grads) if g.requires_grad]  # others: constant

        def product(v):
            if not live:
                return 0 * v
            vs = _flat.split(v, params)
            hv = grad([grads[i] for i in live], params, grad_outputs=[vs[i] for i in live],
                      retain_graph=True, allow_unused=True)
            return _flat.flatten(hv, params)

        return product

    def _gauss_newton_product(self, loss, outputs):
        """``v -> J^T H_L J v``, two graphs built once per step: ``dL/dz`` (for ``H_L``) and
        ``J^T u`` for a dummy ``u`` (whose derivative in ``u`` along ``v`` is ``J v``)."""
        params, who = self._params, type(self).__name__
        if not isinstance(outputs, Tensor) or outputs.grad_fn is None:
            raise TypeError(f"{who}: with curvature='gauss-newton' the closure must return "
                            f"(loss, outputs), outputs the model's output Tensor (with its "
                            f"graph); got {type(outputs).__name__}")
        (dl_dz,) = grad(loss, outputs, create_graph=True)
        u = zeros_like(outputs, requires_grad=True)
        jt_u = grad(outputs, params, grad_outputs=u, create_graph=True, allow_unused=True)
        used = [i for i, j in enumerate(jt_u) if j is not None]

        def product(v):
            vs = _flat.split(v, params)
            (jv,) = grad([jt_u[i] for i in used], u, grad_outputs=[vs[i] for i in used],
                         retain_graph=True)
            (hjv,) = grad(dl_dz, outputs, grad_outputs=jv.detach(), retain_graph=True)
            gv = grad(outputs, params, grad_outputs=hjv.detach(), retain_graph=True,
                      allow_unused=True)
            return _flat.flatten(gv, params)

        return product

    # ------------------------------------------------------------ CG
    def _cg(self, product, g, lam, p0, max_iter, tol):
        """Minimize ``q(p) = g.p + 1/2 p.(B + lam I)p`` by linear CG from ``p0``; returns
        ``(p, r, iterations)`` with the residual ``r = (B + lam I) p + g``."""
        def A(v):
            return product(v) + lam * v

        p = p0
        r = A(p) + g if bool(abs(p).max() > 0) else g.copy()
        d = -r
        rr = r.dot(r)
        g_norm = float(g.dot(g)) ** 0.5
        phis = []
        i = 0
        while i < max_iter:
            Ad = A(d)
            dAd = d.dot(Ad)
            i += 1
            if dAd <= 0:
                # non-positive curvature along d: step by the damping's curvature alone,
                # then stop (the model is unbounded below along d)
                alpha = rr / (lam * d.dot(d)) if lam > 0 else 0.0
                p = p + alpha * d
                r = r + alpha * Ad
                break
            alpha = rr / dAd
            p = p + alpha * d
            r = r + alpha * Ad
            rr_new = r.dot(r)
            d = (rr_new / rr) * d - r
            rr = rr_new
            if float(rr) ** 0.5 <= tol * g_norm:
                break
            phis.append(0.5 * float(p.dot(r + g)))  # q(p) = 1/2 p.(A p) + g.p
            k = max(10, int(0.1 * i))
            if len(phis) > k and phis[-1] < 0 and \
                    (phis[-1] - phis[-1 - k]) / phis[-1] < k * 5e-4:
                break
        return p, r, i

    # ------------------------------------------------------------ step
    def _step(self, closure):
        """One outer Hessian-free iteration; returns the loss at the starting point."""
        out, loss, f = self._evaluate_for_curvature(closure)
        group, params, state = self.param_groups[0], self._params, self._flat_state
        who = type(self).__name__
        with enable_grad():  # double backward, even when step() runs under no_grad
            if group["curvature"] == "gauss-newton":
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise TypeError(f"{who}: with curvature='gauss-newton' the closure must "
                                    f"return (loss, outputs), got {type(out).__name__}")
                grads = grad(loss, params, retain_graph=True, allow_unused=True)
                product = self._gauss_newton_product(loss, out[1])
            else:
                grads = _graph_grads(loss, params, who)
                product = self._hessian_product(grads)
            g = _flat.flatten(grads, params)
            if abs(g).max() <= group["tolerance_grad"]:
                return loss.detach()
            state["n_iter"] += 1

            lam = state["damping"]
            p_prev = state.get("p_prev")
            p0 = p_prev * group["cg_decay"] if p_prev is not None else 0 * g
            p, r, cg_iters = self._cg(product, g, lam, p0, group["cg_max_iter"], group["cg_tol"])
            del product, grads
            state["p_prev"] = p.copy()
            state["cg_iters"] = cg_iters

        # predicted decrease of the undamped model: g.p + 1/2 p.B p, with B p = r - g - lam p
        gp = g.dot(p)
        predicted = float(gp + 0.5 * (p.dot(r - g) - lam * p.dot(p)))
        lr = group["lr"]

        def search(value_at):
            if gp < 0:
                return backtracking(value_at, f, gp, t=lr, c1=1e-2, shrink=0.8,
                                    max_ls=group["max_ls"])
            # CG went uphill (possible only with an indefinite Hessian): no step
            return None, None, value_at(lr), 1

        _, _, f_first, _ = self._search_along(closure, p, search)

        # reduction ratio of the first trial (t = lr), and the Levenberg-Marquardt rule
        pred = lr * float(gp) + lr * lr * (predicted - float(gp))
        rho = (f_first - f) / pred if pred < 0 else -float("inf")
        if rho < 0.25:
            lam *= 1.5
        elif rho > 0.75:
            lam *= 2.0 / 3.0
        state["damping"] = lam
        state["rho"] = rho
        return loss.detach()
