fn main() { println!("rebar: training is not implemented yet (see README status)"); std::process::exit(2); }
