//! A local API client (used by `mask-agent status|sell|sync` and the tests).

use std::path::Path;
use std::pin::Pin;

use futures::{SinkExt, StreamExt};
use mask_protocol::{
    AccessDenied, AgentFrame, AgentHello, ClientFrame, ClientHello, Event, MAX_FRAME_LEN,
    PROTOCOL_VERSION, Request, RequestBody, ResponseBody, decode_frame, encode_frame,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};

type BoxRead = Pin<Box<dyn AsyncRead + Send>>;
type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;
type Reader = FramedRead<BoxRead, LinesCodec>;
type Writer = FramedWrite<BoxWrite, LinesCodec>;

/// A failure talking to the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The agent is not running (or the endpoint is not reachable).
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: std::io::Error,
    },
    /// This account may not use the local API: the socket's permissions refused the connect,
    /// or the agent refused the peer at the handshake.
    #[error("{endpoint}: {}", .denied.en())]
    AccessDenied {
        endpoint: String,
        /// The group that grants access.
        denied: AccessDenied,
    },
    /// Windows: the pipe's server is not the installed agent; nothing was sent.
    #[error(transparent)]
    NotTheAgent(#[from] mask_pipe_guard::NotTheAgent),
    /// The agent refused our protocol version.
    #[error("the agent speaks protocol {0}, this program {PROTOCOL_VERSION}")]
    Version(u32),
    /// The connection broke or carried something unexpected.
    #[error("local API: {0}")]
    Protocol(String),
}

/// A connection to the running agent.
pub struct LocalClient {
    reader: Reader,
    writer: Writer,
    next_id: u64,
    hello: AgentHello,
    /// Events that arrived while waiting for a response.
    pending_events: Vec<Event>,
}

impl LocalClient {
    /// Connects and performs the handshake.
    pub async fn connect(endpoint: &Path, client: &str) -> Result<LocalClient, ClientError> {
        let connect_error = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::PermissionDenied {
                ClientError::AccessDenied {
                    endpoint: endpoint.display().to_string(),
                    denied: AccessDenied::at_socket(endpoint),
                }
            } else {
                ClientError::Connect {
                    endpoint: endpoint.display().to_string(),
                    source,
                }
            }
        };
        #[cfg(unix)]
        let (read, write): (BoxRead, BoxWrite) = {
            let stream = tokio::net::UnixStream::connect(endpoint)
                .await
                .map_err(connect_error)?;
            let (r, w) = stream.into_split();
            (Box::pin(r), Box::pin(w))
        };
        #[cfg(windows)]
        let (read, write): (BoxRead, BoxWrite) = {
            let pipe = tokio::net::windows::named_pipe::ClientOptions::new()
                .open(endpoint.as_os_str())
                .map_err(connect_error)?;
            // Before sending anything: is the pipe's server the installed agent (or this very
            // binary, e.g. a console `mask-agent run` or the tests' in-process agent)?
            let this_binary = std::env::current_exe().ok();
            mask_pipe_guard::verify_pipe_server(&pipe, this_binary.as_deref())?;
            let (r, w) = tokio::io::split(pipe);
            (Box::pin(r), Box::pin(w))
        };
        let mut reader = FramedRead::new(read, LinesCodec::new_with_max_length(MAX_FRAME_LEN));
        let mut writer = FramedWrite::new(write, LinesCodec::new_with_max_length(MAX_FRAME_LEN));
        let hello = ClientFrame::Hello(ClientHello {
            protocol_version: PROTOCOL_VERSION,
            client: client.to_owned(),
        });
        send(&mut writer, &hello).await?;
        let hello = match next_frame(&mut reader).await? {
            AgentFrame::Hello(hello) => hello,
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected hello, got {other:?}"
                )));
            }
        };
        if let Some(refusal) = &hello.refused {
            return Err(ClientError::AccessDenied {
                endpoint: endpoint.display().to_string(),
                denied: AccessDenied::from_refusal(refusal),
            });
        }
        if !hello.accepted {
            return Err(ClientError::Version(hello.protocol_version));
        }
        Ok(LocalClient {
            reader,
            writer,
            next_id: 1,
            hello,
            pending_events: Vec::new(),
        })
    }

    /// The agent's handshake answer.
    pub fn hello(&self) -> &AgentHello {
        &self.hello
    }

    /// Sends a request and waits for its response (events arriving meanwhile are kept).
    pub async fn request(&mut self, body: RequestBody) -> Result<ResponseBody, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        send(
            &mut self.writer,
            &ClientFrame::Request(Request { id, body }),
        )
        .await?;
        loop {
            match next_frame(&mut self.reader).await? {
                AgentFrame::Response(response) if response.id == id => return Ok(response.body),
                AgentFrame::Event(event) => self.pending_events.push(event),
                _ => {}
            }
        }
    }

    /// The next pushed event (after `Subscribe`).
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        if !self.pending_events.is_empty() {
            return Ok(self.pending_events.remove(0));
        }
        loop {
            if let AgentFrame::Event(event) = next_frame(&mut self.reader).await? {
                return Ok(event);
            }
        }
    }
}

async fn send(writer: &mut Writer, frame: &ClientFrame) -> Result<(), ClientError> {
    let line = encode_frame(frame).map_err(|e| ClientError::Protocol(e.to_string()))?;
    writer
        .send(line.trim_end_matches('\n'))
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))
}

async fn next_frame(reader: &mut Reader) -> Result<AgentFrame, ClientError> {
    match reader.next().await {
        Some(Ok(line)) => decode_frame(&line).map_err(|e| ClientError::Protocol(e.to_string())),
        Some(Err(e)) => Err(ClientError::Protocol(e.to_string())),
        None => Err(ClientError::Protocol(
            "the agent closed the connection".into(),
        )),
    }
}
