//! Demo messages for Ada and Grace, written once into an empty database.

use crate::store::{now_ms, Store};
use crate::{AuthProvider, Error};

/// Ada's user id at the demo issuer.
pub(crate) const ADA_ID: &str = "user_2AdaLovelace1815000000";
/// Grace's user id at the demo issuer.
pub(crate) const GRACE_ID: &str = "user_2GraceHopper1906000000";

const ADA: &[&str] = &[
    "Welcome to Courier! These messages live in convex-local.",
    "The Analytical Engine weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves.",
    "Note G is finished: a table for computing the Bernoulli numbers.",
    "The engine has no pretensions whatever to originate anything.",
    "Imagination is the Discovering Faculty, pre-eminently.",
    "Reminder: send Mr Babbage the corrected translation of Menabrea.",
    "Mathematical science shows what is. It is the language of unseen relations between things.",
    "That brain of mine is something more than merely mortal; as time will show.",
];

const GRACE: &[&str] = &[
    "Welcome to Courier! These messages live in convex-local.",
    "First actual case of bug being found (Mark II, relay 70, panel F).",
    "It's easier to ask forgiveness than it is to get permission.",
    "A ship in port is safe, but that's not what ships are built for.",
    "Handing out nanoseconds at the lecture tomorrow: 11.8 inches of wire each.",
];

/// Seeds the demo messages for every provider's domain, spread over the
/// past days; the welcome line is the newest.
pub(crate) fn seed_demo(store: &Store, providers: &[AuthProvider]) -> Result<(), Error> {
    let now = now_ms();
    let hour = 3_600_000.0;
    let mut rows: Vec<(f64, String, &str, &str)> = Vec::new();
    for p in providers {
        let domain = p.normalized_domain();
        for (who, name, bodies) in [
            (ADA_ID, "Ada Lovelace", ADA),
            (GRACE_ID, "Grace Hopper", GRACE),
        ] {
            let author = format!("{domain}|{who}");
            for (i, body) in bodies.iter().enumerate() {
                let age = (i as f64) * 9.0 * hour + 5.0 * 60_000.0;
                rows.push((now - age, author.clone(), name, body));
            }
        }
    }
    let refs: Vec<(f64, &str, &str, &str)> = rows
        .iter()
        .map(|(t, a, n, b)| (*t, a.as_str(), *n, *b))
        .collect();
    store.insert_many(&refs)
}
