//! Integration tests of mask-server-stub: real servers on 127.0.0.1:0, real SQLite files in
//! temp dirs, and real PostgreSQL when `MASK_TEST_POSTGRES_URL` is set (`scripts/postgres-test.sh`
//! prints one; `REQUIRE_POSTGRES=1` makes its absence a failure).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

mod auth;
mod bad_input;
mod browser_harness;
mod cli;
mod cmd;
mod crash;
mod eligibility;
mod eligibility_privacy;
mod files;
mod integrity;
mod limits;
mod note;
mod open_data;
mod person_keys;
mod reports;
mod sales;
mod startup;
mod stock;
mod stock_page;
mod stock_page_browser;
mod tokens;
mod transport;
