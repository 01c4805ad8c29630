//! The simulator tests' one wrapper: a scenario seeded from the test's name, and on failure
//! a message with the seed and the one command that reruns it.

use epidemic::sim::test_seed;

/// Runs one seeded simulator test: `scenario` gets [`test_seed`]`(test)`; if it fails,
/// this panics with the seed, the reason and the command that reruns it (`suite` is the
/// test target, e.g. `sim_scenarios`).
pub(crate) fn run_seeded(
    suite: &str,
    test: &str,
    scenario: impl FnOnce(u64) -> Result<(), String>,
) {
    let seed = test_seed(test);
    if let Err(why) = scenario(seed) {
        panic!(
            "{test} failed with seed {seed}: {why}\n\
             rerun: EPIDEMIC_SEED={seed} cargo test --release --test {suite} {test}"
        );
    }
}
