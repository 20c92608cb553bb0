//! The top-level frames: what a client sends and what the agent sends.

use serde::{Deserialize, Serialize};

use crate::{AccessRefusal, Event, Request, Response};

/// A frame sent by a local client to the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first frame of every connection.
    Hello(ClientHello),
    /// A request; the agent answers with a [`Response`] with the same id.
    Request(Request),
}

/// The client's half of the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientHello {
    /// The client's [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u32,
    /// Who is speaking, for the agent's log (e.g. `"mask-terminal 0.1.0"`).
    pub client: String,
}

/// A frame sent by the agent to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
// A frame lives for one message; boxing the response would change the public type for a few
// hundred bytes.
#[allow(clippy::large_enum_variant)]
pub enum AgentFrame {
    /// The answer to [`ClientFrame::Hello`].
    Hello(AgentHello),
    /// The answer to one request.
    Response(Response),
    /// A pushed event (only after [`crate::RequestBody::Subscribe`]).
    Event(Event),
    /// A frame kind this build does not know (sent by a newer agent); ignore it.
    #[serde(other)]
    Unknown,
}

/// The agent's half of the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHello {
    /// The agent's [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u32,
    /// False when the client's version cannot be served; the agent then closes the connection.
    pub accepted: bool,
    /// The agent's version (`mask-agent` package version).
    pub agent_version: String,
    /// The pharmacy code (醫事機構代碼) this agent sells for (empty when `refused`).
    pub site_code: String,
    /// Set when the agent refuses this peer (with `accepted: false`): the peer may not use the
    /// local API. Absent from agents before access control; older clients ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<AccessRefusal>,
}
