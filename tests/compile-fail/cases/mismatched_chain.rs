// A two-layer map whose halves disagree on the width between them (5 out, 6 in).
use rebar_core::net::{Dense, Net, Then};

fn width<N: Net<4, 3>>() {}

fn main() {
    width::<Then<5, Dense<4, 5>, Dense<6, 3>>>();
}
