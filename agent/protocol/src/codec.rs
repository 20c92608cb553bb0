//! Newline-delimited JSON framing.

use serde::{Serialize, de::DeserializeOwned};

/// The longest frame (one line, without its `\n`) a peer must accept. Readers refuse longer
/// lines instead of buffering without bound.
pub const MAX_FRAME_LEN: usize = 256 * 1024;

/// A frame that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The line is longer than [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes is longer than the limit of {MAX_FRAME_LEN} bytes")]
    TooLong {
        /// The line's length.
        len: usize,
    },
    /// Not valid JSON for the expected frame type.
    #[error("frame is not a valid protocol message: {0}")]
    Json(#[from] serde_json::Error),
}

/// Encodes one frame as a JSON line ending in `\n`.
pub fn encode_frame<T: Serialize>(frame: &T) -> Result<String, FrameError> {
    let mut line = serde_json::to_string(frame)?;
    if line.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLong { len: line.len() });
    }
    line.push('\n');
    Ok(line)
}

/// Decodes one line (with or without its trailing `\n` / `\r\n`).
pub fn decode_frame<T: DeserializeOwned>(line: &str) -> Result<T, FrameError> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLong { len: line.len() });
    }
    Ok(serde_json::from_str(line)?)
}
