//! Issue #15: the pharmacy's public note, from the counter's request to the server's open data:
//! journaled before the answer, synced by the outbox like a listing change (online, or later
//! after an outage), kept across a restart, and set aside (never blocking) when refused.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use mask_agent::LocalClient;
use mask_protocol::{ErrorCode, NoteState, RequestBody, ResponseBody, SellBuyer, SellOutcome};
use serde_json::Value;

use crate::support::proxy::{RuleProxy, problem};
use crate::support::{AgentFiles, InProcessAgent, SITE, TestServer, ids, sync_until_empty};

async fn set_note(client: &mut LocalClient, text: &str) -> NoteState {
    match client
        .request(RequestBody::SetNote { text: text.into() })
        .await
        .unwrap()
    {
        ResponseBody::Note(state) => state,
        other => panic!("expected the note, got {other:?}"),
    }
}

async fn status_note(client: &mut LocalClient) -> NoteState {
    let ResponseBody::Status(status) = client.request(RequestBody::Status).await.unwrap() else {
        panic!("expected a status")
    };
    status.note
}

/// The public note of [`SITE`] in the server's `/v1/sites` after an open-data refresh.
async fn server_note(server: &TestServer) -> Option<String> {
    let handle = server.handle.as_ref().unwrap();
    handle.refresh_open_data().await.unwrap();
    let sites: Value = reqwest::get(format!("{}/v1/sites", server.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let site = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == SITE)
        .unwrap()
        .clone();
    site["public_note"].as_str().map(str::to_owned)
}

#[test]
fn the_screens_limit_is_the_rule_of_the_agent_and_the_server() {
    assert_eq!(
        mask_protocol::PUBLIC_NOTE_MAX_CHARS,
        mask_api::PUBLIC_NOTE_MAX_CHARS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_reaches_the_server_and_one_set_offline_follows_after_a_restart() {
    let mut server = TestServer::start().await;
    let files = AgentFiles::new("note", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    assert_eq!(status_note(&mut client).await, NoteState::default());

    // Online: journaled (the answer comes after the fsync'd write), then synced.
    let state = set_note(&mut client, "  號碼牌 09:00 發放 ").await;
    assert_eq!(state.text.as_deref(), Some("號碼牌 09:00 發放"), "trimmed");
    assert!(state.changed_at.is_some());
    let latest = files.journal().latest_note().unwrap().unwrap();
    assert_eq!(latest.note.as_deref(), Some("號碼牌 09:00 發放"));
    sync_until_empty(&mut client, Duration::from_secs(20)).await;
    assert!(status_note(&mut client).await.synced);
    assert_eq!(
        server_note(&server).await.as_deref(),
        Some("號碼牌 09:00 發放")
    );

    // A note the rule refuses is not journaled at all.
    let response = client
        .request(RequestBody::SetNote {
            text: "口".repeat(41),
        })
        .await
        .unwrap();
    let ResponseBody::Error(error) = response else {
        panic!("expected a refusal, got {response:?}")
    };
    assert_eq!(error.code, ErrorCode::InvalidNote);
    assert!(error.message.contains("41"), "{}", error.message);
    assert_eq!(
        files.journal().latest_note().unwrap().unwrap().id,
        latest.id
    );

    // Offline: the counter is answered at once, and the later of two notes is the one kept.
    server.stop().await;
    set_note(&mut client, "下午 2 點再發號碼牌").await;
    let offline = set_note(&mut client, "下午 3 點再發號碼牌").await;
    assert!(!offline.synced);
    assert_eq!(status_note(&mut client).await, offline);

    // Restart the agent still offline: the note is read back from the journal.
    drop(client);
    agent.stop().await;
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    assert_eq!(status_note(&mut client).await, offline);

    // The server comes back: the outbox sends the latest note only.
    server.restart().await;
    sync_until_empty(&mut client, Duration::from_secs(30)).await;
    assert!(status_note(&mut client).await.synced);
    assert_eq!(
        server_note(&server).await.as_deref(),
        Some("下午 3 點再發號碼牌")
    );

    // An empty note clears it on the page.
    let cleared = set_note(&mut client, "").await;
    assert_eq!(cleared.text, None);
    sync_until_empty(&mut client, Duration::from_secs(20)).await;
    assert_eq!(server_note(&server).await, None);
    drop(client);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_note_needs_attention_and_holds_back_no_sale() {
    let server = TestServer::start().await;
    let proxy = RuleProxy::start(server.addr).await;
    proxy.set(Arc::new(|path: &str, _: &[u8]| {
        (path == "/v1/note").then(|| {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                problem(422, "invalid_body", &[]),
            )
        })
    }));
    let files = AgentFiles::new("note-refused", &proxy.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    set_note(&mut client, "號碼牌 09:00 發放").await;
    let response = client
        .request(RequestBody::Sell {
            buyer: SellBuyer::Manual {
                id_no: ids::even_id(760_000),
                birth_date: None,
            },
            quantity: 2,
        })
        .await
        .unwrap();
    assert!(
        matches!(response, ResponseBody::Sell(SellOutcome::Recorded(_))),
        "{response:?}"
    );
    let status = sync_until_empty(&mut client, Duration::from_secs(20)).await;
    assert_eq!(status.attention, 1, "{status:?}");
    assert_eq!(server.sold().await, 2, "the sale went through");
    let groups = files.journal().attention_groups().unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.kind, g.reason.as_str(), g.count))
            .collect::<Vec<_>>(),
        vec![("note", "invalid_body", 1)]
    );
    let ResponseBody::Attention { records } = client.request(RequestBody::Attention).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(records[0].kind, "note");
    assert!(!status_note(&mut client).await.synced);

    // A later note the server takes settles it.
    proxy.set(Arc::new(|_: &str, _: &[u8]| None));
    set_note(&mut client, "號碼牌 09:30 發放").await;
    let status = sync_until_empty(&mut client, Duration::from_secs(20)).await;
    assert_eq!(status.attention, 0, "{status:?}");
    assert!(status_note(&mut client).await.synced);
    drop(client);
    agent.stop().await;
}
