#!/usr/bin/env python3
"""Training-step throughput of REBAR, REBAR(0.1), NVIL and DisARM in PyTorch (eager), for
comparison with rebar's `cargo bench -p rebar-bench --bench training_step`. See
bench/compare/README.md.

One training step = draw the noise, compute the gradient estimate, one Adam step on the model
and one Adam step (10x lr) on the control variates.

Output: one line per (model, estimator, batch) on stdout,
    torch,<model>,<estimator>,<batch>,<steps_per_second>
and lines starting with '#' for everything else (versions, sanity check).
"""

import math
import os
import statistics
import sys
import time

from common import (BASELINE_HIDDEN, BETA1, BETA2, EPS, ESTIMATORS, HIDDEN, LATENT, MODELS, PIXELS,
                    argument_parser, layer_sizes, load_data, note)

FRAMEWORK = "torch"


def parse_args():
    p = argument_parser(__doc__, "torch.set_num_threads (default 2)", "warm-up seconds")
    return p.parse_args()


ARGS = parse_args()

# torch's OpenMP pool busy-waits at every barrier by default; when the 2 cores are shared with
# other work (as on a developer machine) a descheduled spinning thread stalls every kernel, and
# 2-thread throughput collapsed by ~20x in our runs. PASSIVE waiting avoids that; set
# OMP_WAIT_POLICY yourself to override (it must be set before torch is imported).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Models (docs/estimators.md, *Model conventions*). Parameters are plain leaf tensors; one η per tensor.


def dense_init(fan_in, fan_out, gen):
    # slim.variance_scaling_initializer(): truncated normal, stddev sqrt(1.3·2/fan_in), cut at 2σ.
    std = math.sqrt(2.6 / fan_in)
    w = torch.empty(fan_in, fan_out)
    with torch.no_grad():
        w.normal_(generator=gen)
        bad = w.abs() > 2.0
        while bad.any():  # resample outside ±2σ, like tf.truncated_normal
            w[bad] = torch.randn(int(bad.sum()), generator=gen)
            bad = w.abs() > 2.0
        w.mul_(std)
    return [w, torch.zeros(fan_out)]


class Model:
    def __init__(self, model, gen):
        enc, dec = layer_sizes(model)
        self.enc = [t for (i, o) in enc for t in dense_init(i, o, gen)]
        self.dec = [t for (i, o) in dec for t in dense_init(i, o, gen)]
        self.prior = torch.zeros(LATENT)
        for t in self.params():
            t.requires_grad_(True)

    def params(self):
        return self.enc + self.dec + [self.prior]


def init_baseline(gen):
    psi = dense_init(PIXELS, BASELINE_HIDDEN, gen) + dense_init(BASELINE_HIDDEN, 1, gen)
    for t in psi:
        t.requires_grad_(True)
    return psi


def mlp(ps, h):
    n = len(ps) // 2
    for i in range(n):
        h = torch.addmm(ps[2 * i + 1], h, ps[2 * i])
        if i + 1 < n:
            h = torch.tanh(h)
    return h


def baseline(psi, xc):
    return mlp(psi, xc)[:, 0]


def safe_log(v):
    return torch.log(torch.clamp(v, 1e-8, 1.0))


def log_bernoulli(h, logits):
    # Σ h·a − softplus(a): log-likelihood of binary or relaxed h (utils.binary_log_likelihood).
    return (h * logits - F.softplus(logits)).sum(-1)


def gen_terms(dec, prior, h, x, c0):
    o = mlp(dec, 2.0 * h - 1.0) + c0
    return log_bernoulli(x, o), log_bernoulli(h, prior)


def elbo(dec, prior, h, a, x, c0):
    lpx, lph = gen_terms(dec, prior, h, x, c0)
    return lpx + lph - log_bernoulli(h, a)


def relax(z, a, lam):
    # REBAR's modified relaxation σ(z/λ + a·λ/(λ+1)).
    return torch.sigmoid(z / lam + a * (lam / (lam + 1.0)))


def u_to_z_tilde(a, u, b):
    # The official _u_to_v: v from the same u (detached), ũ = u in value, with gradient
    # (1−v)·∂u'/∂a (b=1) or v·∂u'/∂a (b=0), u' = σ(−a).
    up = torch.sigmoid(-a)
    one = b > 0.5
    with torch.no_grad():
        v = torch.where(one, (u - up) / torch.clamp(1.0 - up, 1e-8, 1.0), u / torch.clamp(up, 1e-8, 1.0))
        v.clamp_(0.0, 1.0)
    ut = torch.where(one, v * (1.0 - up) + up, v * up)
    ut = ut + (u - ut).detach()
    return a + safe_log(ut) - safe_log(1.0 - ut)


# ---------------------------------------------------------------------------------------------
# Adam with TensorFlow's semantics, as rebar's core::optim: TF adds ε to the uncorrected √v,
# i.e. θ −= lr·√(1−β2ᵗ)/(1−β1ᵗ)·m/(√v + ε). torch.optim.Adam adds its ε to √v/√(1−β2ᵗ), so
# passing ε/√(1−β2ᵗ) each step gives exactly TF's update, with torch's fused CPU kernel
# (hand-written foreach fallback if this torch has no fused CPU Adam).

class Adam:
    def __init__(self, params, lr):
        self.params, self.lr, self.t = list(params), lr, 0
        self.opt = None
        try:
            self.opt = torch.optim.Adam(self.params, lr=lr, betas=(BETA1, BETA2), eps=EPS, fused=True)
        except (RuntimeError, TypeError, ValueError):
            self.m = [torch.zeros_like(p) for p in self.params]
            self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads):
        self.t += 1
        bias2 = math.sqrt(1.0 - BETA2 ** self.t)
        if self.opt is not None:
            for p, g in zip(self.params, grads):
                p.grad = g.detach()
            self.opt.param_groups[0]["eps"] = EPS / bias2
            self.opt.step()
            return
        lr_t = self.lr * bias2 / (1.0 - BETA1 ** self.t)
        grads = [g.detach() for g in grads]
        torch._foreach_mul_(self.m, BETA1)
        torch._foreach_add_(self.m, grads, alpha=1.0 - BETA1)
        torch._foreach_mul_(self.v, BETA2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1.0 - BETA2)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_add_(denom, EPS)
        torch._foreach_addcdiv_(self.params, self.m, denom, value=-lr_t)

    def kind(self):
        return "torch.optim.Adam(fused=True), ε/√(1−β2ᵗ)" if self.opt is not None else "foreach (no fused CPU Adam)"


# ---------------------------------------------------------------------------------------------
# Estimators + training step.

class Trainer:
    def __init__(self, model, estimator, lr, seed):
        gen = torch.Generator().manual_seed(seed)
        self.estimator = estimator
        self.m = Model(model, gen)
        self.theta = self.m.params()
        self.n_params = sum(p.numel() for p in self.theta)
        self.opt = Adam(self.theta, lr)
        self.cv = []
        if estimator in ("rebar", "rebar-fixed", "nvil"):
            self.psi = init_baseline(gen)
            self.cv += self.psi
        if estimator in ("rebar", "rebar-fixed"):
            self.rho = torch.zeros(len(self.theta), requires_grad=True)
            self.cv.append(self.rho)
        if estimator == "rebar":
            self.tau = torch.tensor(math.log(0.5), requires_grad=True)
            self.cv.append(self.tau)
        else:
            self.tau = torch.tensor(math.log(0.1))
        self.cv_opt = Adam(self.cv, 10.0 * lr) if self.cv else None

    def hard_pass(self, x, xc, c0, u):
        a = mlp(self.m.enc, xc)
        z = a + safe_log(u) - safe_log(1.0 - u)
        b = (z > 0).to(z.dtype)
        lpx, lph = gen_terms(self.m.dec, self.m.prior, b, x, c0)
        return a, z, b, lpx, lph, log_bernoulli(b, a)

    def step(self, x, xbar, c0):
        xc = x - xbar
        u = torch.rand(x.shape[0], LATENT)
        if self.estimator in ("rebar", "rebar-fixed"):
            return self.rebar_step(x, xc, c0, u)
        if self.estimator == "nvil":
            return self.nvil_step(x, xc, c0, u)
        return self.disarm_step(x, xc, c0, u)

    def rebar_step(self, x, xc, c0, u):
        """Official SBNRebar / SBNDynamicRebar for one stochastic layer (docs/estimators.md, *REBAR:
        the estimate*; docs/variance-gradient.md): g_v = ∇_v mean(−nvil) + η_v ∇_v mean(cv); the
        control variates descend mean_j g_j², differentiated through g (create_graph)."""
        learned = self.estimator == "rebar"
        m, dec, prior = self.m, self.m.dec, self.m.prior
        lam = self.tau.exp()
        a, z, b, lpx, lph, lq = self.hard_pass(x, xc, c0, u)
        f = lpx + lph - lq
        c = baseline(self.psi, xc)
        loss_f = -((f.detach() - c) * lq + lpx + lph).mean()  # c not detached: ∂V/∂ψ
        f_z = elbo(dec, prior, relax(z, a, lam), a, x, c0)
        f_zt = elbo(dec, prior, relax(u_to_z_tilde(a, u, b), a, lam), a, x, c0)
        if learned:
            # f̃ in the REINFORCE term: constant w.r.t. the model parameters but a function of
            # τ, so the autograd τ-gradient of mean(g²) contains the official hand-assembled
            # reinf_g_t term (docs/variance-gradient.md, *d/dλ*). Costs one extra relaxed forward pass
            # (JAX's XLA merges it with the f_zt pass; eager PyTorch cannot).
            a_d = a.detach()
            f_score = elbo([p.detach() for p in dec], prior.detach(),
                           relax(u_to_z_tilde(a_d, u, b), a_d, lam), a_d, x, c0)
        else:
            f_score = f_zt.detach()
        loss_h = (f_score * lq - f_z + f_zt).mean()
        gf = torch.autograd.grad(loss_f, self.theta, create_graph=True, retain_graph=True)
        gh = torch.autograd.grad(loss_h, self.theta, create_graph=learned)
        eta = 2.0 * torch.sigmoid(self.rho)
        g = [gf_v + eta[i] * gh_v for i, (gf_v, gh_v) in enumerate(zip(gf, gh))]
        variance = sum((gv * gv).sum() for gv in g) / self.n_params
        dcv = torch.autograd.grad(variance, self.cv)
        self.opt.step(g)
        self.cv_opt.step(dcv)
        return f.detach().mean()

    def nvil_step(self, x, xc, c0, u):
        a, z, b, lpx, lph, lq = self.hard_pass(x, xc, c0, u)
        f = (lpx + lph - lq).detach()
        c = baseline(self.psi, xc)
        model_loss = -((f - c.detach()) * lq + lpx + lph).mean()
        baseline_loss = (f - c).square().mean()
        grads = torch.autograd.grad(model_loss + baseline_loss, self.theta + self.psi)
        self.opt.step(grads[: len(self.theta)])
        self.cv_opt.step(grads[len(self.theta):])
        return f.mean()

    def disarm_step(self, x, xc, c0, u):
        dec, prior = self.m.dec, self.m.prior
        a = mlp(self.m.enc, xc)
        with torch.no_grad():
            b1 = (u > torch.sigmoid(-a)).to(a.dtype)  # = 1[z > 0]
            b2 = (u < torch.sigmoid(a)).to(a.dtype)   # antithetic: noise −ε
        lpx1, lph1 = gen_terms(dec, prior, b1, x, c0)
        lpx2, lph2 = gen_terms(dec, prior, b2, x, c0)
        with torch.no_grad():
            f1 = lpx1 + lph1 - log_bernoulli(b1, a)
            f2 = lpx2 + lph2 - log_bernoulli(b2, a)
            # DisARM logit gradient ½(f(b¹) − f(b²))·(−1)^{b²}·1[b¹ ≠ b²]·σ(|a|).
            ga = 0.5 * (f1 - f2)[:, None] * (1.0 - 2.0 * b2) * (b1 - b2).abs() * torch.sigmoid(a.abs())
        surrogate = 0.5 * (lpx1 + lph1 + lpx2 + lph2) + (ga * a).sum(-1)
        grads = torch.autograd.grad(-surrogate.mean(), self.theta)
        self.opt.step(grads)
        return f1.mean()

    @torch.no_grad()
    def eval_elbo(self, x, xbar, c0, u):
        a, z, b, lpx, lph, lq = self.hard_pass(x, x - xbar, c0, u)
        return float((lpx + lph - lq).mean())


# ---------------------------------------------------------------------------------------------

def measure(tr, x, xbar, c0, seconds):
    n, t0 = 0, time.perf_counter()
    while True:
        tr.step(x, xbar, c0)
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt


def main():
    args = ARGS
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    models = [m for m in args.models.split(",") if m]
    estimators = [e for e in args.estimators.split(",") if e]
    batches = [int(b) for b in args.batches.split(",") if b]
    data, desc = load_data(args.data, args.seed)
    note(f"torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}, "
         f"cuda available {torch.cuda.is_available()} (not used)")
    note(f"threads: torch.get_num_threads() = {torch.get_num_threads()}, "
         f"interop {torch.get_num_interop_threads()}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    note(f"data: {desc}")
    xbar_np = data.mean(axis=0)
    xbar = torch.from_numpy(xbar_np)
    cl = np.clip(xbar_np, 1e-3, 1 - 1e-3)
    c0 = torch.from_numpy(np.log(cl) - np.log1p(-cl))
    rng = np.random.default_rng(args.seed)

    if args.sanity_steps > 0:
        ev_x = torch.from_numpy(data[:480])
        ev_u = torch.rand(480, LATENT, generator=torch.Generator().manual_seed(12345))
        for model in models:
            for est in estimators:
                tr = Trainer(model, est, args.sanity_lr, args.seed)
                before = tr.eval_elbo(ev_x, xbar, c0, ev_u)
                for _ in range(args.sanity_steps):
                    idx = rng.integers(0, data.shape[0], 24)
                    tr.step(torch.from_numpy(data[idx]), xbar, c0)
                after = tr.eval_elbo(ev_x, xbar, c0, ev_u)
                extra = ""
                if est in ("rebar", "rebar-fixed"):
                    extra = f", mean η {float((2 * torch.sigmoid(tr.rho.detach())).mean()):.4f}"
                if est == "rebar":
                    extra += f", λ {float(tr.tau.detach().exp()):.4f}"
                ok = "ok" if after > before and math.isfinite(after) else "NOT RISING"
                note(f"sanity {FRAMEWORK} {model} {est}: ELBO {before:.2f} -> {after:.2f} after "
                     f"{args.sanity_steps} steps (lr {args.sanity_lr}){extra}: {ok}")

    adam_noted = False
    for model in models:
        for est in estimators:
            for batch in batches:
                tr = Trainer(model, est, args.lr, args.seed)
                if not adam_noted:
                    note(f"Adam: {tr.opt.kind()}")
                    adam_noted = True
                x = torch.from_numpy(data[rng.integers(0, data.shape[0], batch)])
                measure(tr, x, xbar, c0, args.warmup)
                rates = [measure(tr, x, xbar, c0, args.seconds) for _ in range(args.repeats)]
                note(f"{model} {est} batch {batch}: steps/s " + " ".join(f"{r:.1f}" for r in rates))
                print(f"{FRAMEWORK},{model},{est},{batch},{statistics.median(rates):.1f}", flush=True)


if __name__ == "__main__":
    main()
