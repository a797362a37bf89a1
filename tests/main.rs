//! The end-to-end tests: one test binary (`e2e`, a test target of `trainyard-cli`), one module
//! per area, helpers in `support/`. Each module's tests are named after it, so
//! `cargo nextest run -p trainyard-cli --test e2e release::` runs the release tests.
//!
//! The comment on a module says what it covers and what it needs, where its name does not.

mod support;

mod adopt;
mod build;
/// build_rpms end to end: collections read back with rpm, rpmlint and elfdeps.
mod build_rpms;
mod bundled_provides;
mod checkout;
/// CI pipelines: --trigger, `ci plan`, `ci`, generated workflows.
mod ci;
/// Global options, help, colour, broken pipes, what `tests` needs; snapshots in tests/snapshots/.
mod cli;
/// `release publish-crates` against a sparse registry the test serves on 127.0.0.1.
mod crates;
mod dependency_collection;
/// `dist` end to end: the source release rebuilt by rpmbuild in a clean sandbox root with no
/// network (as root; skipped otherwise), and listed in the collection.
mod dist;
/// `docs`: real cargo doc published twice, to a directory and to an sshd on 127.0.0.1; latest
/// stays on the release.
mod docs;
/// build, build_rpms and the whole release SIGKILLed at moments spread over their run.
mod faults;
/// Release lines of both shapes and both flows (rc-beta included), with rpm and dnf.
mod flows;
mod generate_rpm;
/// Bad and hostile input: exit 2, a message, nothing changed, nothing hangs.
mod inputs;
mod internal;
/// Releases SIGKILLed inside their steps, then aborted or resumed exactly.
mod interrupt;
mod lockfile;
/// `trainyard mock` end to end on the demo repositories (as root; skipped otherwise).
mod mock;
/// Collections in a shared, concurrent or interrupted --out (createrepo_c, release publish).
mod outputs;
/// Channel repositories: signing (gpg, rpm -K), dnf with gpgcheck, promote, rollback, ssh (as root).
/// The plan phase: the toolchain against rust-version; a dry-run's words.
mod preflight;
mod publish;
mod release;
/// `release minor|patch`: versions computed from git.
mod release_words;
/// The RPM writer read back with the real rpm tools (rpm, rpmlint, elfdeps).
mod rpm_writer;
mod sandbox;
/// Secrets never reach output or disk (webhook servers on loopback, credentials in URLs).
mod secrets;
mod version;
/// trainyard's version order against rpm, Python's `packaging` and the `semver` crate.
mod version_order;
