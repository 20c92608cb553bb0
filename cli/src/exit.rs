//! The exit codes of every binary in the workspace (README, "Exit codes").
//!
//! 0 and 1 as everywhere, 2 for a command-line mistake as clap (and most Unix tools) use it,
//! then one code per situation a script or an installer may want to tell apart. A code keeps its
//! meaning in every binary: a binary that cannot meet a situation never uses its code.

/// Done.
pub const SUCCESS: u8 = 0;
/// The command ran and did not succeed: a sale refused, a `doctor` check failed, the queue not
/// drained, no reader, no card before `--timeout`, the PC/SC service down, a store or network
/// error of the server, output that could not be written.
pub const FAILURE: u8 = 1;
/// The command line is wrong (unknown flag, missing or malformed value, an argument the
/// command refuses): clap's own code, used for the binaries' own argument checks too.
pub const USAGE: u8 = 2;
/// The running agent cannot be reached or used: not running, access refused (not in the
/// counter group), another program on its socket or pipe, a protocol error. Also `mask-agent
/// service status` when the service is not running (LSB `status`).
pub const UNAVAILABLE: u8 = 3;
/// The agent's journal cannot be written (disk full…: nothing was recorded) or read.
pub const JOURNAL: u8 = 4;
/// The card in the reader was refused: not an NHI card, a health-professional card, removed
/// before it was read, or unreadable (`nhi-read`, `mask-agent card read`).
pub const CARD_REFUSED: u8 = 5;
/// The agent's configuration is unusable (a missing or invalid setting, an unreadable file).
pub const CONFIG: u8 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_are_distinct_and_numbered_in_order() {
        let table = [
            SUCCESS,
            FAILURE,
            USAGE,
            UNAVAILABLE,
            JOURNAL,
            CARD_REFUSED,
            CONFIG,
        ];
        for (index, code) in table.into_iter().enumerate() {
            assert_eq!(usize::from(code), index);
        }
    }
}
