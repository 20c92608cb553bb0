//! A minimal client of the agent's local API (the protocol crate's frames over the Unix socket),
//! the same conversation the screen and `mask-agent sell` have, without a process per sale.

use std::path::Path;
use std::time::Duration;

use mask_protocol::{
    AgentFrame, ClientFrame, ClientHello, PROTOCOL_VERSION, Request, RequestBody, ResponseBody,
    decode_frame, encode_frame,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Socket missing, refused or broken (the agent is down or was killed).
    #[error("agent unreachable: {0}")]
    Io(#[from] std::io::Error),
    /// The agent closed the connection before answering.
    #[error("the agent closed the connection")]
    Closed,
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Frames we cannot read, or a refused handshake.
    #[error("protocol: {0}")]
    Protocol(String),
}

/// One connection to an agent.
pub struct AgentClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
}

impl AgentClient {
    /// Connects and shakes hands.
    pub async fn connect(socket: &Path, limit: Duration) -> Result<AgentClient, ClientError> {
        let stream = tokio::time::timeout(limit, UnixStream::connect(socket))
            .await
            .map_err(|_| ClientError::Timeout(limit))??;
        let (read, writer) = stream.into_split();
        let mut client = AgentClient {
            reader: BufReader::new(read),
            writer,
            next_id: 1,
        };
        client
            .send(&ClientFrame::Hello(ClientHello {
                protocol_version: PROTOCOL_VERSION,
                client: "mask-chaos".into(),
            }))
            .await?;
        match tokio::time::timeout(limit, client.frame()).await {
            Err(_) => Err(ClientError::Timeout(limit)),
            Ok(Ok(AgentFrame::Hello(hello))) if hello.accepted => Ok(client),
            Ok(Ok(other)) => Err(ClientError::Protocol(format!("handshake: {other:?}"))),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Sends one request and waits up to `limit` for its answer.
    pub async fn request(
        &mut self,
        body: RequestBody,
        limit: Duration,
    ) -> Result<ResponseBody, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&ClientFrame::Request(Request { id, body }))
            .await?;
        tokio::time::timeout(limit, async {
            loop {
                if let AgentFrame::Response(response) = self.frame().await?
                    && response.id == id
                {
                    return Ok(response.body);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout(limit))?
    }

    async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        let line = encode_frame(frame).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.writer.write_all(line.as_bytes()).await?;
        if !line.ends_with('\n') {
            self.writer.write_all(b"\n").await?;
        }
        Ok(())
    }

    async fn frame(&mut self) -> Result<AgentFrame, ClientError> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(ClientError::Closed);
        }
        decode_frame(&line).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}
