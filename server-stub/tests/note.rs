//! The pharmacy's public note (`POST /v1/note`): idempotent by id, validated, the later note
//! wins, shown in `/v1/sites` (never in `maskdata.csv`).

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::on_both_backends;
use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";

fn note(text: Option<&str>, set_at: &str) -> Value {
    json!({"id": Uuid::now_v7(), "note": text, "set_at": set_at})
}

/// The CSV with each row's data time (last column) cut off.
fn without_time(csv: &str) -> Vec<&str> {
    csv.split("\r\n")
        .map(|line| line.rsplit_once(',').map_or(line, |(row, _)| row))
        .collect()
}

/// The note of [`SITE`] in `/v1/sites` after a refresh, with its time.
async fn site_note(s: &TestServer) -> (Value, Value) {
    s.server.refresh_open_data().await.unwrap();
    let (_, sites) = s.get("/v1/sites").await;
    let site = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|site| site["code"] == SITE)
        .unwrap()
        .clone();
    (site["public_note"].clone(), site["note_changed_at"].clone())
}

on_both_backends!(
    a_note_is_idempotent_by_id_and_shown_in_the_sites_json_only,
    NOW,
    |s: TestServer| async move {
        let csv_before = s.maskdata().await;
        let first = note(Some("  號碼牌 09:00 發放 "), "2020-03-13T08:30:00+08:00");
        let (status, body) = s.post("/v1/note", &first).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["note"], "號碼牌 09:00 發放", "trimmed");
        assert_eq!(
            (body["replayed"].clone(), body["current"].clone()),
            (json!(false), json!(true))
        );
        assert_eq!(body["site"], SITE);
        // A replay gets the same answer and writes nothing.
        let (status, again) = s.post("/v1/note", &first).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["replayed"], true);
        for key in ["id", "note", "changed_at", "current"] {
            assert_eq!(again[key], body[key], "{key}");
        }
        // The same id with another text is a conflict, and changes nothing.
        let mut other = first.clone();
        other["note"] = json!("已發完");
        let (status, problem) = s.post("/v1/note", &other).await;
        assert_eq!(
            (status, problem["code"].clone()),
            (StatusCode::CONFLICT, json!("idempotency_conflict"))
        );
        let (text, at) = site_note(&s).await;
        assert_eq!(text, "號碼牌 09:00 發放");
        assert_eq!(at, "2020-03-13T08:30:00+08:00");
        // maskdata.csv's columns are fixed by the format: the note is not in it, and every row
        // is as before but for the data time of the refresh.
        let csv_after = s.maskdata().await;
        assert!(!csv_after.contains("號碼牌"));
        assert_eq!(without_time(&csv_after), without_time(&csv_before));
        // An empty note clears it.
        let (status, body) = s
            .post("/v1/note", &note(Some(""), "2020-03-13T09:00:00+08:00"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("note").is_none(), "{body}");
        assert_eq!(site_note(&s).await, (Value::Null, Value::Null));
    }
);

on_both_backends!(
    the_note_set_later_wins_whatever_the_order_of_arrival,
    NOW,
    |s: TestServer| async move {
        let later = note(Some("下午 2 點再發號碼牌"), "2020-03-13T10:00:00+08:00");
        let earlier = note(Some("號碼牌 09:00 發放"), "2020-03-13T08:00:00+08:00");
        let (_, body) = s.post("/v1/note", &later).await;
        assert_eq!(body["current"], true);
        let (status, body) = s.post("/v1/note", &earlier).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["replayed"].clone(), body["current"].clone()),
            (json!(false), json!(false))
        );
        assert_eq!(site_note(&s).await.0, "下午 2 點再發號碼牌");
        // A PC clock ahead counts as the server's now, so it cannot pin its note for good.
        let (_, ahead) = s
            .post(
                "/v1/note",
                &note(Some("明天見"), "2020-03-20T08:00:00+08:00"),
            )
            .await;
        let at = |v: &Value| {
            time::OffsetDateTime::parse(
                v.as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        assert!(
            at(&ahead["changed_at"]) < time::macros::datetime!(2020-03-14 00:00 +08:00),
            "{ahead}"
        );
        // A note set just after it (by the server's clock, which runs on from `as_of`) wins.
        let after = (at(&ahead["changed_at"]) + time::Duration::milliseconds(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let (_, next) = s.post("/v1/note", &note(Some("改了"), &after)).await;
        assert_eq!(next["current"], true, "{next}");
        assert_eq!(site_note(&s).await.0, "改了");
    }
);

on_both_backends!(
    bad_notes_are_refused_as_problems_and_change_nothing,
    NOW,
    |s: TestServer| async move {
        s.post(
            "/v1/note",
            &note(Some("號碼牌 09:00 發放"), "2020-03-13T08:00:00+08:00"),
        )
        .await;
        let long = "口".repeat(41);
        for text in [
            long.as_str(),
            "第一行\n第二行",
            "\u{1b}[31m紅字",
            "tab\there",
            "號碼牌\u{202E}00:90",
            "zero\u{200B}width",
        ] {
            let (status, problem) = s
                .post("/v1/note", &note(Some(text), "2020-03-13T09:00:00+08:00"))
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{text:?}: {problem}"
            );
            assert_eq!(problem["code"], "invalid_body", "{problem}");
            assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
        // Exactly 40 characters (80 bytes of UTF-8 and more) are fine.
        let (status, body) = s
            .post(
                "/v1/note",
                &note(Some(&"口".repeat(40)), "2020-03-13T09:30:00+08:00"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Another site's note is not this token's to set.
        let mut foreign = note(Some("x"), "2020-03-13T09:40:00+08:00");
        foreign["site"] = json!(OTHER_SITE);
        let (status, problem) = s.post("/v1/note", &foreign).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        assert_eq!(site_note(&s).await.0, "口".repeat(40));
        // Without a token: 401, as every pharmacy route.
        let r = s
            .http
            .post(format!("{}/v1/note", s.base))
            .json(&note(Some("x"), "2020-03-13T09:50:00+08:00"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
);
