//! The organizer HTTP API, as a scenario uses it: create its own convention, import a roster
//! (JSON), issue invitations and read their tokens.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use convene_protocol::api::{
    ConventionSummary, CreateConvention, Invite, RosterAdded, RosterEntry,
};
use convene_protocol::Role;
use reqwest::StatusCode;

pub struct Organizer {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A convention made for one run: participant ids in roster order, and their tokens.
pub struct Setup {
    /// Participant ids in the order of the roster given.
    pub ids: Vec<String>,
    pub tokens: HashMap<String, String>,
}

impl Setup {
    /// The invitation token of the `i`-th person of the roster.
    pub fn token(&self, i: usize) -> Result<String> {
        let id = self.ids.get(i).context("no such roster entry")?;
        self.tokens
            .get(id)
            .cloned()
            .with_context(|| format!("no invitation for {id}"))
    }
}

pub fn person(name: String, role: Role) -> RosterEntry {
    RosterEntry {
        name,
        roles: vec![role],
        attributes: Default::default(),
    }
}

impl Organizer {
    pub fn new(base: &str, token: &str) -> Self {
        Organizer {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = r.status();
        if status != StatusCode::CREATED && status != StatusCode::OK {
            let text = r.text().await.unwrap_or_default();
            bail!("POST {path}: {status} {text}");
        }
        r.json().await.with_context(|| format!("POST {path}: body"))
    }

    /// A JSON document of the API, read with the organizer token.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = r.status();
        if !status.is_success() {
            let text = r.text().await.unwrap_or_default();
            bail!("GET {path}: {status} {text}");
        }
        r.json().await.with_context(|| format!("GET {path}: body"))
    }

    /// The server's Prometheus metrics; `None` if they cannot be read.
    pub async fn metrics(&self) -> Option<crate::server_metrics::Scrape> {
        let r = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        Some(crate::server_metrics::parse(&r.text().await.ok()?))
    }

    /// Create convention `id` with `roster` (in requests of at most `ROWS_PER_IMPORT`) and
    /// invite everyone.
    pub async fn setup(&self, id: &str, name: &str, roster: &[RosterEntry]) -> Result<Setup> {
        let _: ConventionSummary = self
            .post(
                "/api/conventions",
                &CreateConvention {
                    id: Some(id.to_string()),
                    name: name.to_string(),
                },
            )
            .await?;
        // The server imports at most 10,000 people per request (ARCHITECTURE.md, Limits).
        let mut ids = Vec::with_capacity(roster.len());
        for chunk in roster.chunks(ROWS_PER_IMPORT) {
            let added: RosterAdded = self
                .post(&format!("/api/conventions/{id}/roster"), &chunk)
                .await?;
            ids.extend(added.added);
        }
        if ids.len() != roster.len() {
            bail!("roster: {} people sent, {} added", roster.len(), ids.len());
        }
        let invites: Vec<Invite> = self
            .post(
                &format!("/api/conventions/{id}/invites"),
                &serde_json::json!({}),
            )
            .await?;
        let tokens = invites
            .into_iter()
            .map(|i| (i.participant, i.token))
            .collect();
        Ok(Setup { ids, tokens })
    }
}

/// The server's cap on people per roster import.
const ROWS_PER_IMPORT: usize = 10_000;

/// A convention id of this run: `lt-<scenario>-<random hex>`.
pub fn unique_id(scenario: &str) -> String {
    format!(
        "lt-{scenario}-{:012x}",
        rand::random::<u64>() & 0xffff_ffff_ffff
    )
}
