//! The tracing set-up shared by the generator, its server binary and the short-day test: one
//! layer collects the debug events of one target (the agents' exchanges, or the server's
//! requests) and everything at `shown` or above is printed.

use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Where printed events go.
#[derive(Clone, Copy, Debug)]
pub enum Console {
    /// Standard error (the binaries).
    Stderr,
    /// libtest's captured output (tests).
    Test,
}

/// Installs the global subscriber: `collector` gets `target`'s debug events, and events at
/// `shown` or above are printed to `console`.
pub fn init(
    collector: impl Layer<Registry> + Send + Sync + 'static,
    target: &'static str,
    shown: LevelFilter,
    console: Console,
) {
    let printed = tracing_subscriber::fmt::layer();
    let printed = match console {
        Console::Stderr => printed.with_writer(std::io::stderr).boxed(),
        Console::Test => printed.with_test_writer().boxed(),
    };
    tracing_subscriber::registry()
        .with(collector.with_filter(Targets::new().with_target(target, LevelFilter::DEBUG)))
        .with(printed.with_filter(shown))
        .init();
}
