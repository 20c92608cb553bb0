//! One client connection: handshake, requests (each answered on its own task, so a slow
//! eligibility check never holds up events), and pushed events after `Subscribe`.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mask_protocol::{
    AccessRefusal, AgentFrame, AgentHello, ClientFrame, ErrorBody, ErrorCode, MAX_FRAME_LEN,
    PROTOCOL_VERSION, RequestBody, Response, ResponseBody, decode_frame, encode_frame,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc};
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::sync::CancellationToken;

use crate::core::Core;

/// Frames queued for one client before it counts as stuck.
const OUTBOX: usize = 1024;

/// Serves one connection until the client leaves or `shutdown`.
pub async fn serve_connection<R, W>(
    core: Arc<Core>,
    read: R,
    mut write: W,
    shutdown: CancellationToken,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<AgentFrame>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            let line = match encode_frame(&frame) {
                Ok(line) => line,
                Err(error) => {
                    tracing::error!(%error, "cannot encode a frame");
                    continue;
                }
            };
            if write.write_all(line.as_bytes()).await.is_err() || write.flush().await.is_err() {
                break;
            }
        }
    });
    let mut lines = FramedRead::new(read, LinesCodec::new_with_max_length(MAX_FRAME_LEN));
    let connection = shutdown.child_token();

    // Handshake.
    let hello = tokio::select! {
        () = connection.cancelled() => None,
        line = tokio::time::timeout(Duration::from_secs(10), lines.next()) => line.ok().flatten(),
    };
    let accepted = match hello.map(|l| l.map(|l| decode_frame::<ClientFrame>(&l))) {
        Some(Ok(Ok(ClientFrame::Hello(hello)))) => {
            tracing::debug!(client = %hello.client, version = hello.protocol_version, "local client connected");
            hello.protocol_version == PROTOCOL_VERSION
        }
        _ => false,
    };
    let _ = tx
        .send(AgentFrame::Hello(AgentHello {
            protocol_version: PROTOCOL_VERSION,
            accepted,
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            site_code: core.site_code().to_owned(),
            refused: None,
        }))
        .await;

    let mut subscribed = false;
    while accepted && !connection.is_cancelled() {
        let line = tokio::select! {
            () = connection.cancelled() => break,
            line = lines.next() => line,
        };
        let line = match line {
            None => break,
            Some(Ok(line)) => line,
            Some(Err(error)) => {
                tracing::warn!(%error, "local client sent an unreadable frame; closing");
                break;
            }
        };
        let request = match decode_frame::<ClientFrame>(&line) {
            Ok(ClientFrame::Request(request)) => request,
            Ok(ClientFrame::Hello(_)) => continue,
            Err(error) => {
                let body = ResponseBody::Error(ErrorBody {
                    code: ErrorCode::BadRequest,
                    message: error.to_string(),
                });
                let _ = tx
                    .send(AgentFrame::Response(Response { id: 0, body }))
                    .await;
                continue;
            }
        };
        if matches!(request.body, RequestBody::Subscribe) && !subscribed {
            subscribed = true;
            // Subscribe before taking the snapshot so nothing falls between the two.
            let events = core.subscribe();
            let body = match core.status().await {
                Ok(status) => ResponseBody::Subscribed(status),
                Err(error) => ResponseBody::Error(error.to_body(core.language())),
            };
            let _ = tx
                .send(AgentFrame::Response(Response {
                    id: request.id,
                    body,
                }))
                .await;
            tokio::spawn(forward_events(
                Arc::clone(&core),
                events,
                tx.clone(),
                connection.clone(),
            ));
            continue;
        }
        let core = Arc::clone(&core);
        let tx = tx.clone();
        tokio::spawn(async move {
            let body = handle(&core, request.body).await;
            let _ = tx
                .send(AgentFrame::Response(Response {
                    id: request.id,
                    body,
                }))
                .await;
        });
    }
    connection.cancel();
    drop(tx);
    let _ = writer.await;
}

/// Answers a peer the access rule refused: reads its hello (so it is not cut off mid-write),
/// answers `accepted: false` with the refusal, and closes. Nothing about the pharmacy is sent.
#[cfg_attr(not(unix), allow(dead_code))] // only the Unix socket has an access rule that refuses
pub async fn refuse_connection<R, W>(read: R, mut write: W, refusal: AccessRefusal)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut lines = FramedRead::new(read, LinesCodec::new_with_max_length(MAX_FRAME_LEN));
    let _ = tokio::time::timeout(Duration::from_secs(10), lines.next()).await;
    let hello = AgentFrame::Hello(AgentHello {
        protocol_version: PROTOCOL_VERSION,
        accepted: false,
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        site_code: String::new(),
        refused: Some(refusal),
    });
    if let Ok(line) = encode_frame(&hello) {
        let _ = write.write_all(line.as_bytes()).await;
        let _ = write.flush().await;
    }
    let _ = write.shutdown().await;
}

async fn forward_events(
    core: Arc<Core>,
    mut events: broadcast::Receiver<mask_protocol::Event>,
    tx: mpsc::Sender<AgentFrame>,
    connection: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            () = connection.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(event) => {
                if tx.send(AgentFrame::Event(event)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "a local client fell behind; resending the state");
                core.resend_state().await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Answers one request.
pub async fn handle(core: &Core, body: RequestBody) -> ResponseBody {
    let lang = core.language();
    let result = match body {
        RequestBody::Status => core.status().await.map(ResponseBody::Status),
        RequestBody::CheckEligibility { id_no, birth_date } => core
            .check_eligibility(&id_no, birth_date)
            .await
            .map(ResponseBody::Eligibility),
        RequestBody::Sell { buyer, quantity } => {
            core.sell(buyer, quantity).await.map(ResponseBody::Sell)
        }
        RequestBody::StockIn(form) => core.stock_in(form).await.map(ResponseBody::Inventory),
        RequestBody::Inventory => core.inventory().await.map(ResponseBody::Inventory),
        RequestBody::SetListing { listed } => {
            core.set_listing(listed).await.map(ResponseBody::Listing)
        }
        RequestBody::SetNote { text } => core.set_note(&text).await.map(ResponseBody::Note),
        RequestBody::SyncNow => {
            crate::sync::sync_now(core, Duration::from_secs(30)).await;
            core.sync_status().await.map(ResponseBody::Sync)
        }
        RequestBody::Subscribe => core.status().await.map(ResponseBody::Subscribed),
        RequestBody::ClearCounter => {
            core.clear_counter();
            Ok(ResponseBody::Ok)
        }
        RequestBody::Attention => core
            .attention()
            .await
            .map(|records| ResponseBody::Attention { records }),
    };
    result.unwrap_or_else(|error| ResponseBody::Error(error.to_body(lang)))
}
