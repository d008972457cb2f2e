// A linear 1-layer model whose encoder outputs 100 units but whose stochastic layer has 200:
// `Dense<784, 100>` is not a `Net<784, 200>`, so the model is not an `Sbn<200>`.
use rebar_core::model::{Generative, OneLayer};
use rebar_core::net::Dense;
use rebar_core::Sbn;

type Broken = OneLayer<784, 200, 784, Dense<784, 100>, Dense<200, 784>, Generative>;

fn layers<M: Sbn<200>>() -> usize {
    M::LAYERS
}

fn main() {
    let _ = layers::<Broken>();
}
