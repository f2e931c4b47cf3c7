//! Push latency (written below).

fn main() {}
