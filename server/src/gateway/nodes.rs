//! `GET /nodes`: the public base URLs of the cluster's nodes (`--nodes`), so that a web page
//! served by one node can reconnect to another when its own goes away.

use axum::extract::State;
use axum::http::{header, Uri};
use axum::response::IntoResponse;
use axum::Json;
use convene_protocol::api::Nodes;

use super::AppState;

/// Why a `--nodes` entry was refused.
#[derive(Debug, thiserror::Error)]
#[error("--nodes: {url:?} is not a node's base URL ({why})")]
pub struct BadNode {
    pub url: String,
    pub why: &'static str,
}

/// Check and normalize `--nodes` entries: absolute `http(s)://host[:port]` URLs without a
/// path, a query or a fragment, written back as `scheme://authority` (no trailing slash), in
/// the order given, each once.
pub fn parse_nodes(list: &[String]) -> Result<Vec<String>, BadNode> {
    let mut out: Vec<String> = Vec::new();
    for raw in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let bad = |why| BadNode {
            url: raw.to_string(),
            why,
        };
        let uri: Uri = raw.parse().map_err(|_| bad("not a URL"))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s,
            Some(_) => return Err(bad("the scheme must be http or https")),
            None => return Err(bad("an absolute URL is needed, e.g. http://10.0.0.2:8080")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.host().is_empty() || authority.as_str().contains('@') {
            return Err(bad("a host, without user information, is needed"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() || raw.contains('#') {
            return Err(bad("a base URL has no path, query or fragment"));
        }
        let url = format!("{scheme}://{authority}");
        if !out.contains(&url) {
            out.push(url);
        }
    }
    Ok(out)
}

pub async fn serve(State(app): State<AppState>) -> impl IntoResponse {
    (
        // Operators may change the list at a restart: never kept by a cache.
        [(header::CACHE_CONTROL, "no-cache")],
        Json(Nodes {
            nodes: app.nodes.as_ref().clone(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::parse_nodes;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn base_urls_are_normalized_in_order_and_once() {
        let got = parse_nodes(&list(&[
            "http://127.0.0.1:8081/",
            " https://b.example.org ",
            "",
            "http://127.0.0.1:8081",
        ]))
        .unwrap();
        assert_eq!(got, ["http://127.0.0.1:8081", "https://b.example.org"]);
        assert!(parse_nodes(&[]).unwrap().is_empty());
    }

    #[test]
    fn anything_but_a_base_url_is_refused() {
        for bad in [
            "127.0.0.1:8081",
            "ftp://a.example.org",
            "ws://a.example.org",
            "http://a.example.org/convene",
            "http://a.example.org/?x=1",
            "http://a.example.org/#top",
            "http://user@a.example.org",
            "not a url",
        ] {
            assert!(parse_nodes(&list(&[bad])).is_err(), "{bad}");
        }
    }
}
