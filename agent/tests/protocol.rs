//! The local API as a peer sees it: handshake, bad frames, subscriptions, socket permissions.

use mask_protocol::{
    AgentFrame, ClientFrame, ClientHello, ErrorCode, MAX_FRAME_LEN, RequestBody, ResponseBody,
    decode_frame, encode_frame,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{AgentFiles, InProcessAgent, TestServer};

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_is_private_and_speaks_versioned_ndjson() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    let files = AgentFiles::new("protocol", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let endpoint = agent.config.local_endpoint();
    assert_eq!(
        std::fs::metadata(&endpoint).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(endpoint.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );

    // A client of another protocol version is told so.
    let stream = tokio::net::UnixStream::connect(&endpoint).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let hello = ClientFrame::Hello(ClientHello {
        protocol_version: 99,
        client: "future".into(),
    });
    write
        .write_all(encode_frame(&hello).unwrap().as_bytes())
        .await
        .unwrap();
    let AgentFrame::Hello(answer) =
        decode_frame(&lines.next_line().await.unwrap().unwrap()).unwrap()
    else {
        panic!()
    };
    assert!(!answer.accepted);
    assert_eq!(answer.site_code, crate::support::SITE);
    assert!(
        lines.next_line().await.unwrap().is_none(),
        "connection must close"
    );

    // Garbage gets a typed error, and the connection lives on.
    let stream = tokio::net::UnixStream::connect(&endpoint).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let hello = ClientFrame::Hello(ClientHello {
        protocol_version: mask_protocol::PROTOCOL_VERSION,
        client: "t".into(),
    });
    write
        .write_all(encode_frame(&hello).unwrap().as_bytes())
        .await
        .unwrap();
    lines.next_line().await.unwrap().unwrap();
    write
        .write_all(b"{\"frame\":\"request\",\"id\":1,\"body\":{\"type\":\"sell\"}}\n")
        .await
        .unwrap();
    let AgentFrame::Response(response) =
        decode_frame(&lines.next_line().await.unwrap().unwrap()).unwrap()
    else {
        panic!()
    };
    assert!(matches!(response.body, ResponseBody::Error(e) if e.code == ErrorCode::BadRequest));
    let status = ClientFrame::Request(mask_protocol::Request {
        id: 2,
        body: RequestBody::Status,
    });
    write
        .write_all(encode_frame(&status).unwrap().as_bytes())
        .await
        .unwrap();
    let AgentFrame::Response(response) =
        decode_frame(&lines.next_line().await.unwrap().unwrap()).unwrap()
    else {
        panic!()
    };
    assert_eq!(response.id, 2);
    assert!(matches!(response.body, ResponseBody::Status(_)));

    // An endless line is cut off instead of filling memory.
    let huge = vec![b'x'; MAX_FRAME_LEN + 10];
    let _ = write.write_all(&huge).await;
    let _ = write.write_all(b"\n").await;
    assert!(lines.next_line().await.map(|l| l.is_none()).unwrap_or(true));

    // A second agent on the same data dir refuses to start.
    let again = mask_agent::start_agent(
        &files.config(),
        mask_agent::CardSource::None,
        tokio_util::sync::CancellationToken::new(),
    )
    .await;
    assert!(matches!(again, Err(mask_agent::RunError::Listen(_))));
    agent.stop().await;
}
