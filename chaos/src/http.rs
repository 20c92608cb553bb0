//! Just enough HTTP/1.1 framing for the proxy: read one whole message (head and body) off a
//! stream as raw bytes, so a fault can cut, replace or hold back exactly the bytes it means to.

use tokio::io::{AsyncRead, AsyncReadExt};

/// A head larger than this is not an HTTP message the agent or the server would send.
const MAX_HEAD: usize = 64 * 1024;
/// Bodies beyond this are refused rather than buffered (sales batches stay far below it).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The peer closed before a whole message arrived.
    #[error("connection closed mid-message")]
    Closed,
    /// Not HTTP/1.x as we understand it.
    #[error("malformed HTTP message: {0}")]
    Malformed(&'static str),
    /// Socket error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One message as it travelled: `raw[..head_len]` is the head (with its blank line).
#[derive(Clone, Debug)]
pub struct Message {
    /// Head and body, byte for byte.
    pub raw: Vec<u8>,
    /// Length of the head including the final CRLF CRLF.
    pub head_len: usize,
    /// The status code, for responses.
    pub status: Option<u16>,
}

impl Message {
    /// The body bytes (still chunk-encoded when the message was chunked).
    pub fn body(&self) -> &[u8] {
        &self.raw[self.head_len..]
    }

    /// The head's header lines, without the request or status line.
    pub fn head_text(&self) -> String {
        String::from_utf8_lossy(&self.raw[..self.head_len]).into_owned()
    }
}

/// Reads one message. `Ok(None)` when the peer closed cleanly before sending anything (the end
/// of a keep-alive connection). `buf` carries bytes read past the message over to the next call.
pub async fn read_message<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    is_response: bool,
    request_was_head: bool,
) -> Result<Option<Message>, HttpError> {
    let head_len = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(HttpError::Malformed("head too large"));
        }
        if fill(stream, buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(HttpError::Closed)
            };
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let status = if is_response {
        let code = first
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or(HttpError::Malformed("status line"))?;
        Some(code)
    } else {
        None
    };
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| HttpError::Malformed("content-length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
    }
    let bodiless =
        request_was_head || status.is_some_and(|s| (100..200).contains(&s) || s == 204 || s == 304);
    let total = if bodiless {
        head_len
    } else if chunked {
        head_len + chunked_len(stream, buf, head_len).await?
    } else if let Some(len) = content_length {
        if len > MAX_BODY {
            return Err(HttpError::Malformed("body too large"));
        }
        while buf.len() < head_len + len {
            if fill(stream, buf).await? == 0 {
                return Err(HttpError::Closed);
            }
        }
        head_len + len
    } else if is_response {
        // No length: the body runs to the end of the connection.
        while fill(stream, buf).await? != 0 {
            if buf.len() > head_len + MAX_BODY {
                return Err(HttpError::Malformed("body too large"));
            }
        }
        buf.len()
    } else {
        head_len
    };
    let raw: Vec<u8> = buf.drain(..total).collect();
    Ok(Some(Message {
        raw,
        head_len,
        status,
    }))
}

/// The length of a chunked body starting at `buf[start..]`, reading more as needed.
async fn chunked_len<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    start: usize,
) -> Result<usize, HttpError> {
    let mut pos = start;
    loop {
        let line_end = loop {
            if let Some(i) = find(&buf[pos..], b"\r\n") {
                break pos + i;
            }
            if fill(stream, buf).await? == 0 {
                return Err(HttpError::Closed);
            }
        };
        let size_text = String::from_utf8_lossy(&buf[pos..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| HttpError::Malformed("chunk size"))?;
        if size > MAX_BODY {
            return Err(HttpError::Malformed("chunk too large"));
        }
        pos = line_end + 2;
        if size == 0 {
            // Trailers end with an empty line.
            loop {
                if let Some(i) = find(&buf[pos..], b"\r\n") {
                    let empty = i == 0;
                    pos += i + 2;
                    if empty {
                        return Ok(pos - start);
                    }
                } else if fill(stream, buf).await? == 0 {
                    return Err(HttpError::Closed);
                }
            }
        }
        while buf.len() < pos + size + 2 {
            if fill(stream, buf).await? == 0 {
                return Err(HttpError::Closed);
            }
        }
        pos += size + 2;
    }
}

async fn fill<R: AsyncRead + Unpin>(stream: &mut R, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether a request head asks for `HEAD` (its response has no body whatever it says).
pub fn is_head_request(message: &Message) -> bool {
    message.raw.starts_with(b"HEAD ")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(bytes: &[u8], is_response: bool) -> Result<Vec<Message>, HttpError> {
        let mut stream = bytes;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(m) = read_message(&mut stream, &mut buf, is_response, false).await? {
            out.push(m);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn reads_keep_alive_requests_one_by_one() {
        let two = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n";
        let messages = read_all(two, false).await.expect("two requests");
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].body(), b"abc");
        assert!(messages[1].raw.starts_with(b"GET /b"));
    }

    #[tokio::test]
    async fn reads_a_chunked_response_whole() {
        let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let messages = read_all(bytes, true).await.expect("one response");
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].status, Some(200));
        assert_eq!(messages[0].raw.len(), bytes.len());
    }

    #[tokio::test]
    async fn a_short_body_is_an_error_not_a_hang() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert!(matches!(
            read_all(bytes, true).await,
            Err(HttpError::Closed)
        ));
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        let bytes = b"\x00\x01garbage\r\n\r\n";
        assert!(matches!(
            read_all(bytes, true).await,
            Err(HttpError::Malformed(_))
        ));
    }
}
