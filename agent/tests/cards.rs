//! Card events into sales: in-process through the fixtures' transport, and end to end through
//! pcscd + vpcd with a virtual card (gated by `REQUIRE_PCSC`, serialised by the vpcd lock).

use std::time::Duration;

use mask_agent::CardSource;
use mask_protocol::{
    CardProblem, CounterState, ErrorCode, Event, RequestBody, ResponseBody, SaleSource, SellBuyer,
    SellOutcome,
};
use nhi_card::CardEvent;
use nhi_fixtures::{FixtureTransport, Profile};

use crate::support::{AgentFiles, InProcessAgent, TestServer};

const READER: &str = "Fixture Reader 0";

/// Reads a fixture card in-process and feeds the events the watcher would emit.
fn insert_fixture(agent: &InProcessAgent, profile: &str) {
    let mut transport = FixtureTransport::builtin(profile).unwrap();
    agent.feed.send(CardEvent::CardInserted {
        reader: READER.into(),
    });
    match nhi_card::read_identity(&mut transport) {
        Ok(identity) => agent.feed.send(CardEvent::IdentityRead {
            reader: READER.into(),
            identity,
        }),
        Err(error) => agent.feed.send(CardEvent::CardError {
            reader: Some(READER.into()),
            kind: error.kind().unwrap_or(nhi_card::CardErrorKind::Unreadable),
            label: error.card_label().map(str::to_owned),
        }),
    };
    transport.apdu_log().assert_read_only();
}

/// Waits for a counter state that is not "checking".
async fn next_counter(client: &mut mask_agent::LocalClient) -> CounterState {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), client.next_event())
            .await
            .unwrap()
            .unwrap();
        if let Event::Counter(state) = event
            && !matches!(state, CounterState::Checking { .. })
        {
            return state;
        }
    }
}

/// An agent in this process watching the first vpcd reader through pcscd, with the reader's
/// lock, its server and files (all kept for the test's length), and a client subscribed to
/// its events. `None` when the PC/SC stack is missing (see `nhi_fixtures::pcsc_gate`).
struct PcscAgent {
    _lock: nhi_fixtures::VpcdLock,
    _server: TestServer,
    _files: AgentFiles,
    agent: InProcessAgent,
    events: mask_agent::LocalClient,
}

async fn pcsc_agent(name: &str) -> Option<PcscAgent> {
    let lock = nhi_fixtures::pcsc_gate(nhi_fixtures::VPCD_PORT, &format!("agent: {name}"))?;
    let server = TestServer::start().await;
    let files = AgentFiles::new(name, &server.url(), &server.token);
    let (feed, _) = CardSource::feed();
    let agent = InProcessAgent::start_with(
        files.config(),
        CardSource::pcsc(Some(nhi_fixtures::VPCD_READER.into())),
        feed,
    )
    .await;
    let mut events = agent.client().await;
    assert!(matches!(
        events.request(RequestBody::Subscribe).await.unwrap(),
        ResponseBody::Subscribed(_)
    ));
    Some(PcscAgent {
        _lock: lock,
        _server: server,
        _files: files,
        agent,
        events,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_read_in_process_shows_the_masked_buyer_and_sells_by_read_ref() {
    let server = TestServer::start().await;
    let files = AgentFiles::new("cards-fixture", &server.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut events = agent.client().await;
    assert!(matches!(
        events.request(RequestBody::Subscribe).await.unwrap(),
        ResponseBody::Subscribed(_)
    ));

    let profile = Profile::builtin("adult").unwrap();
    let expected = profile.expected_identity().unwrap().clone();
    insert_fixture(&agent, "adult");
    let CounterState::Buyer {
        read,
        buyer,
        eligibility,
    } = next_counter(&mut events).await
    else {
        panic!("expected a buyer on screen")
    };
    assert_eq!(buyer.masked_id, nhi_card::mask_id(&expected.id_no));
    assert_eq!(buyer.masked_name, nhi_card::mask_name(&expected.name));
    assert_ne!(buyer.masked_id, expected.id_no);
    assert_eq!(buyer.source, SaleSource::Card);

    let mut client = agent.client().await;
    let quantity = eligibility.allowed.max(1);
    let outcome = client
        .request(RequestBody::Sell {
            buyer: SellBuyer::Card { read },
            quantity,
        })
        .await
        .unwrap();
    if eligibility.allowed > 0 {
        let ResponseBody::Sell(SellOutcome::Recorded(receipt)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(receipt.buyer.source, SaleSource::Card);
        assert_eq!(next_counter(&mut events).await, CounterState::Waiting);
        // The same read cannot be sold twice.
        let again = client
            .request(RequestBody::Sell {
                buyer: SellBuyer::Card { read },
                quantity: 1,
            })
            .await
            .unwrap();
        assert!(matches!(again, ResponseBody::Error(e) if e.code == ErrorCode::StaleBuyer));
    } else {
        assert!(matches!(
            outcome,
            ResponseBody::Sell(SellOutcome::Refused(_))
        ));
    }

    // Cards the pharmacist must be told about.
    for (profile, problem, label) in [
        ("hpc", CardProblem::HealthProfessionalCard, None),
        ("bank", CardProblem::NotNhiCard, Some("VISA DEBIT")),
    ] {
        insert_fixture(&agent, profile);
        match next_counter(&mut events).await {
            CounterState::CardError {
                problem: got,
                card_label,
                ..
            } => assert_eq!((got, card_label.as_deref()), (problem, label), "{profile}"),
            other => panic!("{profile}: {other:?}"),
        }
    }
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_card_over_pcscd_reaches_the_counter() {
    let Some(mut pcsc) = pcsc_agent("cards-pcsc").await else {
        return;
    };

    let profile = Profile::builtin("child").unwrap();
    let expected = profile.expected_identity().unwrap().clone();
    let card = nhi_fixtures::VirtualCard::insert(&profile, nhi_fixtures::VPCD_PORT).unwrap();
    let CounterState::Buyer {
        read,
        buyer,
        eligibility,
    } = next_counter(&mut pcsc.events).await
    else {
        panic!("expected the child on screen")
    };
    assert_eq!(buyer.masked_id, nhi_card::mask_id(&expected.id_no));
    assert_eq!(eligibility.kind, mask_protocol::BuyerKind::Child);
    let mut client = pcsc.agent.client().await;
    let outcome = client
        .request(RequestBody::Sell {
            buyer: SellBuyer::Card { read },
            quantity: eligibility.allowed,
        })
        .await
        .unwrap();
    assert!(
        matches!(outcome, ResponseBody::Sell(SellOutcome::Recorded(_))),
        "{outcome:?}"
    );
    card.apdu_log().assert_read_only();
    drop(card);
    pcsc.agent.stop().await;
}

// A bank card over the real stack (watcher → agent → protocol): the counter names what was
// inserted ("VISA DEBIT", the label in the card's FCI), not only "not an NHI card".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_card_over_pcscd_is_named_on_the_counter() {
    let Some(mut pcsc) = pcsc_agent("cards-foreign").await else {
        return;
    };

    let card = nhi_fixtures::VirtualCard::insert(
        &Profile::builtin("bank").unwrap(),
        nhi_fixtures::VPCD_PORT,
    )
    .unwrap();
    assert_eq!(
        next_counter(&mut pcsc.events).await,
        CounterState::CardError {
            reader: Some(nhi_fixtures::VPCD_READER.into()),
            problem: CardProblem::NotNhiCard,
            card_label: Some("VISA DEBIT".into()),
        }
    );
    card.apdu_log().assert_read_only();
    drop(card);
    pcsc.agent.stop().await;
}
