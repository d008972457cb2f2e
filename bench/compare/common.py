"""What rebar_jax.py and rebar_torch.py share: the sizes and settings, the command line, the
'#'-prefixed notes, the data and the layer shapes. See bench/compare/README.md."""

import argparse
import gzip
import os
import struct

PIXELS, LATENT, HIDDEN, BASELINE_HIDDEN = 784, 200, 200, 100
MODELS = ("linear1", "nonlinear")
ESTIMATORS = ("rebar", "rebar-fixed", "nvil", "disarm")
BETA1, BETA2, EPS = 0.9, 0.99999, 1e-8
DATA_DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "host", "data",
                            "mnist-binarized.rbin.gz")


def argument_parser(doc, threads_help, warmup_help):
    """The options both scripts take; a script adds its own before parsing."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help=threads_help)
    p.add_argument("--seconds", type=float, default=3.0, help="measurement time per repeat (default 3)")
    p.add_argument("--repeats", type=int, default=3, help="measurements per line; the median is printed")
    p.add_argument("--warmup", type=float, default=1.0, help=warmup_help)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--estimators", default=",".join(ESTIMATORS))
    p.add_argument("--batches", default="24,1")
    p.add_argument("--lr", type=float, default=1e-4, help="model lr of the timed steps (CV: 10x), as rebar's bench")
    p.add_argument("--sanity-steps", type=int, default=200, help="0 disables the ELBO sanity check")
    p.add_argument("--sanity-lr", type=float, default=1e-3)
    p.add_argument("--data", default=DATA_DEFAULT, help="rebar's binarized MNIST container (.rbin.gz)")
    p.add_argument("--seed", type=int, default=0)
    return p


def note(*a):
    print("#", *a, flush=True)


def load_data(path, seed):
    """rebar's embedded binarized MNIST training split (host/data/README.md), else seeded random
    binary images; returns (images as float32 0/1 rows, a description)."""
    import numpy as np

    try:
        raw = gzip.open(path, "rb").read()
        if raw[:8] != b"REBARBIN" or struct.unpack("<I", raw[8:12])[0] != 1:
            raise ValueError("not a version-1 REBARBIN container")
        n_train = struct.unpack("<I", raw[32:36])[0]
        bits = np.frombuffer(raw, np.uint8, count=n_train * 98, offset=44).reshape(n_train, 98)
        x = np.unpackbits(bits, axis=1)[:, :PIXELS].astype(np.float32)
        return x, f"binarized MNIST train split ({n_train} images) from {os.path.relpath(path)}"
    except (OSError, ValueError) as e:
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.0, 0.3, PIXELS).astype(np.float32)
        x = (rng.uniform(size=(5000, PIXELS)) < p).astype(np.float32)
        return x, f"seeded random binary images (could not read {path}: {e})"


def layer_sizes(model):
    """(encoder, decoder) dense shapes (fan_in, fan_out) of the paper's one-layer models."""
    if model == "linear1":
        return [(PIXELS, LATENT)], [(LATENT, PIXELS)]
    if model == "nonlinear":
        return ([(PIXELS, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, LATENT)],
                [(LATENT, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, PIXELS)])
    raise ValueError(model)
