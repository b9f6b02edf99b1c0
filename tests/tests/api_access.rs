//! Who may call each HTTP route, end to end and table-driven: every operation of the OpenAPI
//! document, called with every credential (the organizer token; the invitation token of a
//! facilitator, a guarantor, a citizen, a rapporteur, an expert; no token, a revoked token,
//! another convention's facilitator's token, a made-up one), must answer what the document
//! says: its `x-convene-access` names who may call it (`public`, or `organizer` and the roles
//! whose invitation tokens are accepted), and the status each credential gets is among the
//! operation's documented responses. Participants' tokens travel as `Authorization: Bearer`;
//! a token in the URL (`?token=`) is refused with 400 and reveals nothing.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail, ensure, Context, Result};
use convene_tests::proto::api::{ErrorBody, Invite};
use convene_tests::proto::{ErrorCode, Role, ServerMessage};
use convene_tests::{invite_of, person, tempdir, Client, Server, ORGANIZER_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

const CONV: &str = "acces";
const OTHER: &str = "voisine";
/// The convention the organizer deletes (`DELETE /api/conventions/{id}`): not `CONV`, which
/// the other routes need after it.
const THROWAWAY: &str = "jetable";

/// The people of the convention, one per role, and their role's name in the document.
const PEOPLE: [(&str, Role, &str); 5] = [
    ("Claire Animatrice", Role::Facilitator, "facilitator"),
    ("Hélène Garante", Role::Guarantor, "guarantor"),
    ("Yannick Citoyen", Role::Citizen, "citizen"),
    ("Sophie Rapporteuse", Role::Rapporteur, "rapporteur"),
    ("Marc Expert", Role::Expert, "expert"),
];
/// A citizen whose invitation is revoked, and one whose invitation the DELETE route revokes.
const REVOKED: &str = "Bernard Révoqué";
const TARGET: &str = "Fatima Cible";

/// Who calls.
#[derive(Clone, Debug)]
enum Who {
    Organizer,
    Role(&'static str, String),
    Nobody,
    Revoked(String),
    OtherConvention(String),
    MadeUp(String),
}

impl Who {
    fn label(&self) -> String {
        match self {
            Who::Organizer => "the organizer".into(),
            Who::Role(r, _) => format!("a {r}"),
            Who::Nobody => "no token".into(),
            Who::Revoked(_) => "a revoked token".into(),
            Who::OtherConvention(_) => "another convention's facilitator".into(),
            Who::MadeUp(_) => "a made-up token".into(),
        }
    }
    fn bearer(&self) -> Option<&str> {
        match self {
            Who::Organizer => Some(ORGANIZER_TOKEN),
            Who::Role(_, t) | Who::Revoked(t) | Who::OtherConvention(t) | Who::MadeUp(t) => Some(t),
            Who::Nobody => None,
        }
    }
}

/// Who may call an operation, as the document says.
#[derive(Debug)]
struct Access {
    public: bool,
    organizer: bool,
    roles: Vec<String>,
}

fn access_of(op: &Value, what: &str) -> Result<Access> {
    let a = op
        .get("x-convene-access")
        .ok_or_else(|| anyhow!("{what}: no x-convene-access in the document"))?;
    let strings = |k: &str| -> Vec<String> {
        a[k].as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Access {
        public: a["public"].as_bool().unwrap_or(false),
        organizer: a["organizer"].as_bool().unwrap_or(false),
        roles: strings("roles"),
    })
}

/// The status the document promises to `who`: a success (the operation's 2xx), 401 without a
/// valid credential, 403 for a participant whose role may not.
fn expected(op: &Value, access: &Access, who: &Who) -> Result<u16> {
    let success = op["responses"]
        .as_object()
        .into_iter()
        .flat_map(|r| r.keys())
        .filter_map(|k| k.parse::<u16>().ok())
        .find(|s| (200..300).contains(s))
        .ok_or_else(|| anyhow!("no 2xx response documented"))?;
    if access.public {
        return Ok(success);
    }
    Ok(match who {
        Who::Organizer if access.organizer => success,
        Who::Role(role, _) if access.roles.iter().any(|r| r == role) => success,
        // A participant's valid token where participants are let in, but not this role.
        Who::Role(..) if !access.roles.is_empty() => 403,
        _ => 401,
    })
}

async fn command(c: &mut Client, command: Value) -> Result<Value> {
    let id = format!("raw-{}", convene_tests::unique());
    c.send_raw(&json!({ "type": "request", "id": id, "command": command }).to_string())
        .await?;
    let reply = c
        .wait_for(|m| matches!(m, ServerMessage::Ok { id: i, .. } | ServerMessage::Error { id: Some(i), .. } if *i == id))
        .await?;
    let ServerMessage::Ok { seq, .. } = reply else {
        bail!("{command} refused: {reply:?}");
    };
    Ok(serde_json::to_value(&c.wait_seq(seq).await?.event)?)
}

fn fill(method: &Method, path: &str, params: &HashMap<&str, String>) -> Result<String> {
    if *method == Method::DELETE && path == "/api/conventions/{id}" {
        return Ok(format!("/api/conventions/{THROWAWAY}?confirm={THROWAWAY}"));
    }
    let mut p = path.to_string();
    for (k, v) in params {
        p = p.replace(&format!("{{{k}}}"), v);
    }
    ensure!(!p.contains('{'), "no value for a parameter of {path}");
    if p.ends_with("/diff") {
        p.push_str("?from=1");
    }
    Ok(p)
}

/// A well-formed body for the POST routes, so that only the credential decides.
fn body_for(method: &Method, path: &str, n: usize) -> Option<Value> {
    if *method != Method::POST {
        return None;
    }
    Some(if path == "/api/conventions" {
        json!({ "id": format!("nouvelle-{n}"), "name": "Nouvelle convention" })
    } else if path.ends_with("/roster") {
        json!([{ "name": format!("Nouvelle personne {n}"), "roles": ["citizen"] }])
    } else {
        json!({})
    })
}

async fn call(
    base: &str,
    method: &Method,
    path: &str,
    who: &Who,
    n: usize,
) -> Result<(u16, String)> {
    let mut req = reqwest::Client::new().request(method.clone(), format!("{base}{path}"));
    if let Some(t) = who.bearer() {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body_for(method, path, n) {
        req = req.json(&b);
    }
    let r = req.send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_credential_as_the_openapi_document_says() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let org = server.http();
    let mut roster: Vec<_> = PEOPLE
        .iter()
        .map(|(name, role, _)| person(name, &[*role], &[]))
        .collect();
    roster.push(person(REVOKED, &[Role::Citizen], &[]));
    roster.push(person(TARGET, &[Role::Citizen], &[]));
    let invites = org.convention(CONV, &roster).await?;
    let other = org
        .convention(
            OTHER,
            &[person("Autre Animatrice", &[Role::Facilitator], &[])],
        )
        .await?;
    org.convention(
        THROWAWAY,
        &[person("Jetable Animatrice", &[Role::Facilitator], &[])],
    )
    .await?;
    let revoked = invite_of(&invites, REVOKED).clone();
    let r = org
        .delete(&format!(
            "/api/conventions/{CONV}/invites/{}",
            revoked.participant
        ))
        .send()
        .await?;
    ensure!(r.status() == 204, "revoke: {}", r.status());

    // Things for every path parameter: an open named poll, a document with a named version,
    // a planned rotation.
    let tok = |name: &str| invite_of(&invites, name).token.clone();
    let id = |name: &str| invite_of(&invites, name).participant.clone();
    let mut fac = Client::join(&server.ws_url(), "fac", &tok(PEOPLE[0].0)).await?;
    let drafted = command(
        &mut fac,
        json!({ "type": "draft_poll", "spec": { "question": "Bus de nuit ?", "kind": "single", "options": ["Oui", "Non"] } }),
    )
    .await?;
    let poll = drafted["poll"].as_str().unwrap_or_default().to_string();
    command(&mut fac, json!({ "type": "open_poll", "poll": poll })).await?;
    command(
        &mut fac,
        json!({ "type": "create_document", "name": "avis", "title": "Avis citoyen" }),
    )
    .await?;
    command(
        &mut fac,
        json!({ "type": "name_version", "document": "avis", "label": "Première lecture" }),
    )
    .await?;
    command(
        &mut fac,
        json!({ "type": "plan_rotation", "experts": [id(PEOPLE[4].0)], "method": "random",
                "participants": [id(PEOPLE[2].0), id(TARGET)], "only_present": false, "round_ms": 600000 }),
    )
    .await?;
    command(
        &mut fac,
        json!({ "type": "create_hearing", "title": "Audition", "speaker": id(PEOPLE[4].0) }),
    )
    .await?;
    let params = HashMap::from([
        ("id", CONV.to_string()),
        ("hearing", "h1".to_string()),
        ("participant", id(TARGET)),
        ("poll", poll),
        ("doc", "avis".to_string()),
    ]);

    let doc: Value = reqwest::get(server.url("/openapi.json"))
        .await?
        .json()
        .await?;
    let listed = convene::gateway::openapi::OPERATIONS;
    let mut whos: Vec<Who> = PEOPLE
        .iter()
        .map(|(name, _, role)| Who::Role(role, tok(name)))
        .collect();
    whos.extend([
        Who::Nobody,
        Who::Revoked(revoked.token.clone()),
        Who::OtherConvention(invite_of(&other, "Autre Animatrice").token.clone()),
        Who::MadeUp(format!("{CONV}.{}", "ab".repeat(16))),
    ]);
    // The organizer last, and the DELETE last of all: what they change cannot change what
    // the others get.
    let mut ops: Vec<(&str, &str)> = listed.to_vec();
    ops.sort_by_key(|(m, _)| *m == "delete");
    let base = server.url("");
    let mut table: BTreeMap<String, BTreeMap<String, u16>> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut n = 0;
    for round in [whos.clone(), vec![Who::Organizer]] {
        for (m, p) in &ops {
            let op = &doc["paths"][*p][*m];
            ensure!(op.is_object(), "{m} {p} is not in the document");
            let access = access_of(op, &format!("{m} {p}"))?;
            let method: Method = m.to_uppercase().parse()?;
            let path = fill(&method, p, &params)?;
            for who in &round {
                n += 1;
                let want = expected(op, &access, who)?;
                let (got, body) = call(&base, &method, &path, who, n).await?;
                table
                    .entry(format!("{m} {p}"))
                    .or_default()
                    .insert(who.label(), got);
                if got != want {
                    wrong.push(format!(
                        "{m} {p} with {}: {got}, the document says {want} ({body:.120})",
                        who.label()
                    ));
                    continue;
                }
                ensure!(
                    op["responses"].get(got.to_string()).is_some(),
                    "{m} {p}: {got} is not among its documented responses"
                );
                // Refusals are typed.
                if got == 401 || got == 403 {
                    let e: ErrorBody = serde_json::from_str(&body)
                        .with_context(|| format!("{m} {path}: untyped {got}: {body}"))?;
                    let code = if got == 401 {
                        ErrorCode::Unauthorized
                    } else {
                        ErrorCode::Forbidden
                    };
                    ensure!(e.code == code, "{m} {path}: {e:?}");
                }
            }
        }
    }
    // The DELETE's other documented answers: revoking again (409), nobody (404).
    let op = &doc["paths"]["/api/conventions/{id}/invites/{participant}"]["delete"];
    for (participant, want) in [(id(TARGET), 409u16), ("p99999".to_string(), 404)] {
        let path = format!("/api/conventions/{CONV}/invites/{participant}");
        let (got, body) = call(&base, &Method::DELETE, &path, &Who::Organizer, 0).await?;
        ensure!(got == want, "DELETE {path}: {got} {body}, expected {want}");
        ensure!(
            op["responses"].get(want.to_string()).is_some(),
            "DELETE invite: {want} undocumented"
        );
    }
    // Deleting a convention, its other documented answers: no confirm or a wrong one (400),
    // deleted already (404).
    let op = &doc["paths"]["/api/conventions/{id}"]["delete"];
    for (path, want) in [
        (format!("/api/conventions/{CONV}"), 400u16),
        (format!("/api/conventions/{CONV}?confirm={OTHER}"), 400),
        (
            format!("/api/conventions/{THROWAWAY}?confirm={THROWAWAY}"),
            404,
        ),
    ] {
        let (got, body) = call(&base, &Method::DELETE, &path, &Who::Organizer, 0).await?;
        ensure!(got == want, "DELETE {path}: {got} {body}, expected {want}");
        ensure!(
            op["responses"].get(want.to_string()).is_some(),
            "DELETE convention: {want} undocumented"
        );
    }
    // Public audience (§24): the opinion is for the holder of the active public link only;
    // with it, 404 until something is published.
    let link: Value = org
        .post(&format!("/api/conventions/{CONV}/public-link"))
        .send()
        .await?
        .json()
        .await?;
    let link = link["token"].as_str().unwrap_or_default().to_string();
    let (got, body) = call(
        &base,
        &Method::GET,
        "/public/opinion",
        &Who::MadeUp(link),
        0,
    )
    .await?;
    ensure!(
        got == 404,
        "GET /public/opinion with the link: {got} {body}"
    );
    for (op, row) in &table {
        println!("{op:<60} {row:?}");
    }
    ensure!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    ensure!(
        n >= listed.len() * 9,
        "only {n} calls for {} operations",
        listed.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_url_is_refused_on_every_participant_route() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites: Vec<Invite> = server
        .http()
        .convention(
            CONV,
            &[person("Claire Animatrice", &[Role::Facilitator], &[])],
        )
        .await?;
    let token = invite_of(&invites, "Claire Animatrice").token.clone();
    let doc: Value = reqwest::get(server.url("/openapi.json"))
        .await?
        .json()
        .await?;
    let params = HashMap::from([
        ("id", CONV.to_string()),
        ("participant", "p00001".to_string()),
        ("poll", "q1".to_string()),
        ("doc", "avis".to_string()),
        ("hearing", "h1".to_string()),
    ]);
    let mut checked = 0;
    for (m, p) in convene::gateway::openapi::OPERATIONS {
        let op = &doc["paths"][*p][*m];
        let access = access_of(op, &format!("{m} {p}"))?;
        if access.roles.is_empty() {
            continue;
        }
        let path = fill(&Method::GET, p, &params)?;
        let sep = if path.contains('?') { '&' } else { '?' };
        // The facilitator's own valid token, and for a convention that does not exist: the
        // same 400, which says nothing of the token or the convention.
        for path in [path.clone(), path.replace(CONV, "inconnue")] {
            let url = server.url(&format!("{path}{sep}token={token}"));
            let r = reqwest::get(&url).await?;
            let status = r.status().as_u16();
            let text = r.text().await?;
            ensure!(status == 400, "{m} {path}?token=: {status} {text}");
            let e: ErrorBody = serde_json::from_str(&text)?;
            ensure!(e.code == ErrorCode::Invalid, "{e:?}");
            ensure!(
                e.message.contains("Authorization"),
                "the refusal does not say where the token goes: {}",
                e.message
            );
            ensure!(
                op["responses"].get("400").is_some(),
                "{m} {p}: 400 undocumented"
            );
        }
        checked += 1;
    }
    ensure!(checked >= 8, "only {checked} participant routes");
    Ok(())
}
