#!/usr/bin/env python3
"""Training-step throughput of REBAR, REBAR(0.1), NVIL and DisARM in JAX (jit), for comparison
with rebar's `cargo bench -p rebar-bench --bench training_step`. See bench/compare/README.md.

One training step = draw the noise, compute the gradient estimate, one Adam step on the model
and one Adam step (10x lr) on the control variates -- all inside one jitted function.

Output: one line per (model, estimator, batch) on stdout,
    jax,<model>,<estimator>,<batch>,<steps_per_second>
and lines starting with '#' for everything else (versions, compile times, sanity check).
"""

import math
import os
import statistics
import sys
import time

from common import (BASELINE_HIDDEN, BETA1, BETA2, EPS, ESTIMATORS, HIDDEN, LATENT, MODELS, PIXELS,
                    argument_parser, layer_sizes, load_data, note)

FRAMEWORK = "jax"


def parse_args():
    p = argument_parser(__doc__, "CPU threads for XLA (default 2)", "warm-up seconds after compilation")
    p.add_argument("--check", action="store_true",
                   help="instead of benchmarking: check the autodiff variance gradient of REBAR against "
                        "central finite differences of mean_j g_j^2 (float64, same noise) and exit")
    return p.parse_args()


ARGS = parse_args()

# Threads: XLA's CPU backend sizes its intra-op pool from the CPUs this process may run on, so
# restrict the affinity to ARGS.threads CPUs (a no-op on a 2-core machine with --threads 2), and
# run single-threaded Eigen when 1 thread is asked for. Must happen before jax is imported.
try:
    cpus = sorted(os.sched_getaffinity(0))
    if ARGS.threads < len(cpus):
        os.sched_setaffinity(0, cpus[: ARGS.threads])
except (AttributeError, OSError):
    pass
_eigen = "true" if ARGS.threads > 1 else "false"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen={_eigen}").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

sg = jax.lax.stop_gradient


# ---------------------------------------------------------------------------------------------
# Models (docs/estimators.md, *Model conventions*): parameter tensors in a fixed order, one η per tensor.


def dense_init(key, fan_in, fan_out):
    # slim.variance_scaling_initializer(): truncated normal, stddev sqrt(1.3·2/fan_in), cut at 2σ.
    std = math.sqrt(2.6 / fan_in)
    w = std * jax.random.truncated_normal(key, -2.0, 2.0, (fan_in, fan_out), jnp.float32)
    return [w, jnp.zeros((fan_out,), jnp.float32)]


def init_model(key, model):
    enc, dec = layer_sizes(model)
    keys = jax.random.split(key, len(enc) + len(dec))
    p = {"enc": [], "dec": []}
    for k, (i, o) in zip(keys[: len(enc)], enc):
        p["enc"] += dense_init(k, i, o)
    for k, (i, o) in zip(keys[len(enc):], dec):
        p["dec"] += dense_init(k, i, o)
    p["prior"] = jnp.zeros((LATENT,), jnp.float32)
    return p


def init_baseline(key):
    k1, k2 = jax.random.split(key)
    return dense_init(k1, PIXELS, BASELINE_HIDDEN) + dense_init(k2, BASELINE_HIDDEN, 1)


def mlp(ps, h):
    n = len(ps) // 2
    for i in range(n):
        h = h @ ps[2 * i] + ps[2 * i + 1]
        if i + 1 < n:
            h = jnp.tanh(h)
    return h


def baseline(psi, xc):
    return mlp(psi, xc)[:, 0]


def safe_log(v):
    return jnp.log(jnp.clip(v, 1e-8, 1.0))


def log_bernoulli(h, logits):
    # Σ h·a − softplus(a): log-likelihood of binary or relaxed h (utils.binary_log_likelihood).
    return jnp.sum(h * logits - jax.nn.softplus(logits), axis=-1)


def gen_terms(theta, h, x, c0):
    """log p(x|h) and log p(h) for binary or relaxed latent h."""
    o = mlp(theta["dec"], 2.0 * h - 1.0) + c0
    return log_bernoulli(x, o), log_bernoulli(h, theta["prior"])


def elbo(theta, h, a, x, c0):
    lpx, lph = gen_terms(theta, h, x, c0)
    return lpx + lph - log_bernoulli(h, a)


def relax(z, a, lam):
    # REBAR's modified relaxation σ(z/λ + a·λ/(λ+1)) (muprop_relaxation=True).
    return jax.nn.sigmoid(z / lam + a * lam / (lam + 1.0))


def u_to_z_tilde(a, u, b):
    # The official _u_to_v: v from the same u (stop-gradiented), ũ = u in value, gradient
    # (1−v)·∂u'/∂a (b=1) or v·∂u'/∂a (b=0), u' = σ(−a).
    up = jax.nn.sigmoid(-a)
    v = jnp.where(b > 0.5, (u - up) / jnp.clip(1.0 - up, 1e-8, 1.0), u / jnp.clip(up, 1e-8, 1.0))
    v = sg(jnp.clip(v, 0.0, 1.0))
    ut = jnp.where(b > 0.5, v * (1.0 - up) + up, v * up)
    ut = ut + sg(u - ut)
    return a + safe_log(ut) - safe_log(1.0 - ut)


# ---------------------------------------------------------------------------------------------
# Adam with TensorFlow's semantics (ε on the uncorrected √v), as rebar's core::optim.

def adam_init(params):
    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)  # noqa: E731 (distinct buffers: donated)
    return {"m": zeros(), "v": zeros(), "t": jnp.zeros((), jnp.float32)}


def adam_step(params, grads, st, lr):
    t = st["t"] + 1.0
    # 1 − β^t via expm1 so that f32 keeps β2 = 0.99999's correction accurate.
    lr_t = lr * jnp.sqrt(-jnp.expm1(t * math.log(BETA2))) / (-jnp.expm1(t * math.log(BETA1)))
    m = jax.tree_util.tree_map(lambda m, g: BETA1 * m + (1.0 - BETA1) * g, st["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: BETA2 * v + (1.0 - BETA2) * g * g, st["v"], grads)
    new = jax.tree_util.tree_map(lambda p, m, v: p - lr_t * m / (jnp.sqrt(v) + EPS), params, m, v)
    return new, {"m": m, "v": v, "t": t}


# ---------------------------------------------------------------------------------------------
# Estimators. Each returns (model gradient for minimisation, control-variate gradient, ELBO).

def hard_pass(theta, x, xc, c0, u):
    a = mlp(theta["enc"], xc)
    z = a + safe_log(u) - safe_log(1.0 - u)
    b = sg((z > 0).astype(jnp.float32))
    lpx, lph = gen_terms(theta, b, x, c0)
    lq = log_bernoulli(b, a)
    return a, z, b, lpx, lph, lq


def rebar_estimate(theta, cv, fixed_log_lam, x, xc, c0, u):
    """Official SBNRebar / SBNDynamicRebar for one stochastic layer (docs/estimators.md, *REBAR:
    the estimate*; docs/variance-gradient.md).

    cv = {"rho": η pre-activations (one per model tensor), "psi": baseline, ["tau": log λ]}.
    g_v = ∇_v mean(−nvil) + η_v ∇_v mean(cv); the control variates get ∇ mean_j g_j² by autodiff
    through g (second order).
    """
    tau = cv["tau"] if "tau" in cv else fixed_log_lam
    lam = jnp.exp(tau)
    c = baseline(cv["psi"], xc)

    def losses(th):
        a, z, b, lpx, lph, lq = hard_pass(th, x, xc, c0, u)
        f = lpx + lph - lq
        nvil = (sg(f) - c) * lq + lpx + lph  # c is not stop-gradiented (variance gradient of ψ)
        zt = u_to_z_tilde(a, u, b)
        f_z = elbo(th, relax(z, a, lam), a, x, c0)
        f_zt = elbo(th, relax(zt, a, lam), a, x, c0)
        # f̃ in the REINFORCE term: constant w.r.t. the model parameters but still a function of
        # τ, so the autodiff τ-gradient of mean(g²) includes the official hand-assembled
        # reinf_g_t = η ⊙ ∇θ mean(sg(∂f̃/∂τ)·log q) term exactly (docs/variance-gradient.md, *d/dλ*).
        ths, as_ = sg(th), sg(a)
        f_zt_score = elbo(ths, relax(u_to_z_tilde(as_, u, b), as_, lam), as_, x, c0)
        cvs = f_zt_score * lq - f_z + f_zt
        return (-jnp.mean(nvil), jnp.mean(cvs)), jnp.mean(f)

    (loss_f, _), vjp, elbo_mean = jax.vjp(losses, theta, has_aux=True)
    one, zero = jnp.ones_like(loss_f), jnp.zeros_like(loss_f)
    (gf,) = vjp((one, zero))
    (gh,) = vjp((zero, one))
    leaves_f, tdef = jax.tree_util.tree_flatten(gf)
    leaves_h = jax.tree_util.tree_leaves(gh)
    eta = 2.0 * jax.nn.sigmoid(cv["rho"])
    g = [lf + eta[i] * lh for i, (lf, lh) in enumerate(zip(leaves_f, leaves_h))]
    return jax.tree_util.tree_unflatten(tdef, g), elbo_mean


def n_params(theta):
    return sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(theta))


def make_step(model, estimator, lr):
    """The jitted training step: (state, x, x̄, c0) → (state, ELBO)."""
    cv_lr = 10.0 * lr
    fixed_log_lam = math.log(0.1)

    if estimator in ("rebar", "rebar-fixed"):
        def step(state, x, xbar, c0):
            key, sub = jax.random.split(state["key"])
            theta = state["theta"]
            u = jax.random.uniform(sub, (x.shape[0], LATENT), jnp.float32)
            xc = x - xbar
            count = n_params(theta)

            def variance(cv):
                g, e = rebar_estimate(theta, cv, fixed_log_lam, x, xc, c0, u)
                v = sum(jnp.sum(l * l) for l in jax.tree_util.tree_leaves(g)) / count
                return v, (g, e)

            (_, (g, e)), dcv = jax.value_and_grad(variance, has_aux=True)(state["cv"])
            theta, opt = adam_step(theta, g, state["opt"], lr)
            cv, cv_opt = adam_step(state["cv"], dcv, state["cv_opt"], cv_lr)
            return {"key": key, "theta": theta, "opt": opt, "cv": cv, "cv_opt": cv_opt}, e

    elif estimator == "nvil":
        def step(state, x, xbar, c0):
            key, sub = jax.random.split(state["key"])
            u = jax.random.uniform(sub, (x.shape[0], LATENT), jnp.float32)
            xc = x - xbar

            def loss(theta, psi):
                a, z, b, lpx, lph, lq = hard_pass(theta, x, xc, c0, u)
                f = lpx + lph - lq
                c = baseline(psi, xc)
                model_loss = -jnp.mean((sg(f) - sg(c)) * lq + lpx + lph)
                baseline_loss = jnp.mean(jnp.square(sg(f) - c))
                return model_loss + baseline_loss, jnp.mean(f)

            (_, e), (g, dpsi) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
                state["theta"], state["cv"]["psi"])
            theta, opt = adam_step(state["theta"], g, state["opt"], lr)
            cv, cv_opt = adam_step(state["cv"], {"psi": dpsi}, state["cv_opt"], cv_lr)
            return {"key": key, "theta": theta, "opt": opt, "cv": cv, "cv_opt": cv_opt}, e

    elif estimator == "disarm":
        def step(state, x, xbar, c0):
            key, sub = jax.random.split(state["key"])
            u = jax.random.uniform(sub, (x.shape[0], LATENT), jnp.float32)
            xc = x - xbar

            def loss(theta):
                a = mlp(theta["enc"], xc)
                b1 = sg((u > jax.nn.sigmoid(-a)).astype(jnp.float32))  # = 1[z > 0]
                b2 = sg((u < jax.nn.sigmoid(a)).astype(jnp.float32))   # antithetic: noise −ε
                lpx1, lph1 = gen_terms(theta, b1, x, c0)
                lpx2, lph2 = gen_terms(theta, b2, x, c0)
                f1 = lpx1 + lph1 - log_bernoulli(b1, a)
                f2 = lpx2 + lph2 - log_bernoulli(b2, a)
                # DisARM logit gradient ½(f(b¹) − f(b²))·(−1)^{b²}·1[b¹ ≠ b²]·σ(|a|).
                ga = sg(0.5 * (f1 - f2)[:, None] * (1.0 - 2.0 * b2) * jnp.abs(b1 - b2)
                        * jax.nn.sigmoid(jnp.abs(a)))
                surrogate = 0.5 * (lpx1 + lph1 + lpx2 + lph2) + jnp.sum(ga * a, axis=-1)
                return -jnp.mean(surrogate), jnp.mean(f1)

            (_, e), g = jax.value_and_grad(loss, has_aux=True)(state["theta"])
            theta, opt = adam_step(state["theta"], g, state["opt"], lr)
            return {"key": key, "theta": theta, "opt": opt, "cv": state["cv"], "cv_opt": state["cv_opt"]}, e
    else:
        raise ValueError(estimator)

    return jax.jit(step, donate_argnums=(0,))


def init_state(model, estimator, seed):
    k_model, k_base, k_run = jax.random.split(jax.random.PRNGKey(seed), 3)
    theta = init_model(k_model, model)
    cv = {}
    if estimator in ("rebar", "rebar-fixed"):
        cv["rho"] = jnp.zeros((len(jax.tree_util.tree_leaves(theta)),), jnp.float32)
        cv["psi"] = init_baseline(k_base)
        if estimator == "rebar":
            cv["tau"] = jnp.asarray(math.log(0.5), jnp.float32)
    elif estimator == "nvil":
        cv["psi"] = init_baseline(k_base)
    return {"key": k_run, "theta": theta, "opt": adam_init(theta), "cv": cv, "cv_opt": adam_init(cv)}


def eval_elbo(theta, x, xbar, c0, u):
    a, z, b, lpx, lph, lq = hard_pass(theta, x, x - xbar, c0, u)
    return jnp.mean(lpx + lph - lq)


eval_elbo_jit = jax.jit(eval_elbo)


# ---------------------------------------------------------------------------------------------

def measure(step, state, x, xbar, c0, seconds, chunk):
    """Runs `step` in chunks until `seconds` have passed; returns (steps/s, state)."""
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(chunk):
            state, e = step(state, x, xbar, c0)
        e.block_until_ready()
        n += chunk
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt, state


def check():
    """dV/dτ, dV/dρ and dV/dψ by autodiff vs central differences in float64 with common noise."""
    jax.config.update("jax_enable_x64", True)
    data, _ = load_data(ARGS.data, ARGS.seed)
    f64 = lambda t: jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), t)  # noqa: E731
    worst = 0.0
    for model in MODELS:
        st = init_state(model, "rebar", ARGS.seed)
        theta, cv = f64(st["theta"]), f64(st["cv"])
        cv["rho"] = cv["rho"] + jnp.linspace(-0.4, 0.4, cv["rho"].shape[0])
        cv["tau"] = jnp.asarray(math.log(0.37), jnp.float64)
        x = jnp.asarray(data[100:106], jnp.float64)
        xbar = jnp.asarray(data.mean(axis=0), jnp.float64)
        cl = jnp.clip(xbar, 1e-3, 1 - 1e-3)
        c0 = jnp.log(cl) - jnp.log1p(-cl)
        u = jax.random.uniform(jax.random.PRNGKey(3), (6, LATENT), jnp.float64)
        count = n_params(theta)

        def variance(c):
            g, _ = rebar_estimate(theta, c, math.log(0.1), x, x - xbar, c0, u)
            return sum(jnp.sum(l * l) for l in jax.tree_util.tree_leaves(g)) / count

        grad = jax.grad(variance)(cv)
        enc_rho = len(theta["dec"])  # flattened order: dec, enc, prior
        probes = {
            "log λ": (lambda c, v: {**c, "tau": v}, cv["tau"], grad["tau"]),
            "ρ(enc.w)": (lambda c, v: {**c, "rho": c["rho"].at[enc_rho].set(v)}, cv["rho"][enc_rho],
                         grad["rho"][enc_rho]),
            "ψ(out.b)": (lambda c, v: {**c, "psi": c["psi"][:3] + [c["psi"][3].at[0].set(v)]}, cv["psi"][3][0],
                         grad["psi"][3][0]),
            "ψ(in.w[400,7])": (lambda c, v: {**c, "psi": [c["psi"][0].at[400, 7].set(v)] + c["psi"][1:]},
                               cv["psi"][0][400, 7], grad["psi"][0][400, 7]),
        }
        for name, (put, v0, ad) in probes.items():
            h = 1e-5
            fd = (variance(put(cv, v0 + h)) - variance(put(cv, v0 - h))) / (2 * h)
            rel = abs(float(ad) - float(fd)) / max(abs(float(fd)), 1e-12)
            worst = max(worst, rel)
            note(f"check {model} dV/d{name}: autodiff {float(ad):.10g}, central difference {float(fd):.10g}, "
                 f"rel. error {rel:.1e}")
    ok = worst < 1e-6
    note(f"check: worst relative error {worst:.1e}: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


def main():
    if ARGS.check:
        sys.exit(check())
    models = [m for m in ARGS.models.split(",") if m]
    estimators = [e for e in ARGS.estimators.split(",") if e]
    batches = [int(b) for b in ARGS.batches.split(",") if b]
    data, desc = load_data(ARGS.data, ARGS.seed)
    import jaxlib
    note(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, numpy {np.__version__}, "
         f"python {sys.version.split()[0]}, devices {jax.devices()}")
    note(f"threads {ARGS.threads} (affinity {sorted(os.sched_getaffinity(0))}), XLA_FLAGS='{os.environ['XLA_FLAGS']}'")
    note(f"data: {desc}")
    xbar_np = data.mean(axis=0)
    xbar = jnp.asarray(xbar_np)
    c0 = jnp.asarray(np.log(np.clip(xbar_np, 1e-3, 1 - 1e-3)) - np.log1p(-np.clip(xbar_np, 1e-3, 1 - 1e-3)))
    rng = np.random.default_rng(ARGS.seed)

    if ARGS.sanity_steps > 0:
        # The ELBO of a fixed set of 480 training images with fixed noise, before and after
        # ARGS.sanity_steps steps on random minibatches of 24.
        ev_x = jnp.asarray(data[:480])
        ev_u = jax.random.uniform(jax.random.PRNGKey(12345), (480, LATENT), jnp.float32)
        for model in models:
            for est in estimators:
                step = make_step(model, est, ARGS.sanity_lr)
                state = init_state(model, est, ARGS.seed)
                before = float(eval_elbo_jit(state["theta"], ev_x, xbar, c0, ev_u))
                for _ in range(ARGS.sanity_steps):
                    idx = rng.integers(0, data.shape[0], 24)
                    state, _ = step(state, jnp.asarray(data[idx]), xbar, c0)
                after = float(eval_elbo_jit(state["theta"], ev_x, xbar, c0, ev_u))
                extra = ""
                if "rho" in state["cv"]:
                    extra = f", mean η {float(jnp.mean(2 * jax.nn.sigmoid(state['cv']['rho']))):.4f}"
                if "tau" in state["cv"]:
                    extra += f", λ {float(jnp.exp(state['cv']['tau'])):.4f}"
                ok = "ok" if after > before and math.isfinite(after) else "NOT RISING"
                note(f"sanity {FRAMEWORK} {model} {est}: ELBO {before:.2f} -> {after:.2f} after "
                     f"{ARGS.sanity_steps} steps (lr {ARGS.sanity_lr}){extra}: {ok}")

    for model in models:
        for est in estimators:
            for batch in batches:
                step = make_step(model, est, ARGS.lr)
                state = init_state(model, est, ARGS.seed)
                x = jnp.asarray(data[rng.integers(0, data.shape[0], batch)])
                t0 = time.perf_counter()
                compiled = step.lower(state, x, xbar, c0).compile()
                t_compile = time.perf_counter() - t0
                step = compiled
                _, state = measure(step, state, x, xbar, c0, ARGS.warmup, 10)
                rates = []
                for _ in range(ARGS.repeats):
                    r, state = measure(step, state, x, xbar, c0, ARGS.seconds, 10)
                    rates.append(r)
                note(f"{model} {est} batch {batch}: compile {t_compile:.2f} s, steps/s "
                     + " ".join(f"{r:.1f}" for r in rates))
                print(f"{FRAMEWORK},{model},{est},{batch},{statistics.median(rates):.1f}", flush=True)


if __name__ == "__main__":
    main()
