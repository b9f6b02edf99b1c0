//! Public audience (§24): a public viewer of `/public/ws`, recording every frame it receives
//! as it came (to assert on the bytes), and the organizer's public link.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use convene_protocol::{PublicClientMessage, PublicLink, PublicServerMessage, PublicView};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::{Organizer, Server};

enum Got {
    Text(String),
    Closed(Option<u16>),
}

/// A public viewer's connection.
pub struct Viewer {
    sink: futures_util::stream::SplitSink<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        Message,
    >,
    rx: mpsc::UnboundedReceiver<Got>,
    /// Every text frame received, as received.
    pub frames: Vec<String>,
    /// The latest view received.
    pub view: Option<PublicView>,
    /// The close code, once closed (`Some(None)`: closed without a code).
    pub closed: Option<Option<u16>>,
}

pub fn public_ws_url(server: &Server) -> String {
    format!("ws://{}/public/ws", server.addr)
}

impl Viewer {
    /// Connect without saying anything.
    pub async fn open(server: &Server) -> Result<Viewer> {
        let (ws, _) = tokio_tungstenite::connect_async(public_ws_url(server))
            .await
            .context("public websocket connect")?;
        let (sink, mut stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(m) = stream.next().await {
                let got = match m {
                    Ok(Message::Text(t)) => Got::Text(t.to_string()),
                    Ok(Message::Close(f)) => Got::Closed(f.map(|f| u16::from(f.code))),
                    Ok(_) => continue,
                    Err(_) => Got::Closed(None),
                };
                let end = matches!(got, Got::Closed(_));
                if tx.send(got).is_err() || end {
                    return;
                }
            }
            let _ = tx.send(Got::Closed(None));
        });
        Ok(Viewer {
            sink,
            rx,
            frames: Vec::new(),
            view: None,
            closed: None,
        })
    }

    /// Connect and send `watch` with `link` (no wait).
    pub async fn watch_only(server: &Server, link: &str) -> Result<Viewer> {
        let mut v = Viewer::open(server).await?;
        v.send(&PublicClientMessage::Watch {
            protocol: convene_protocol::PROTOCOL_VERSION,
            link: link.to_string(),
        })
        .await?;
        Ok(v)
    }

    /// Connect, `watch`, and wait for the first view and the `pong` that follows it (after
    /// the count, if it changed since the view was built).
    pub async fn watch(server: &Server, link: &str) -> Result<Viewer> {
        let mut v = Viewer::watch_only(server, link).await?;
        let first = v.next(Duration::from_secs(10)).await?;
        anyhow::ensure!(
            matches!(first, PublicServerMessage::PublicView { .. }),
            "the first message is the view: {first:?}"
        );
        loop {
            match v.next(Duration::from_secs(10)).await? {
                PublicServerMessage::Pong { .. } => return Ok(v),
                PublicServerMessage::PublicCount { .. } => continue,
                other => bail!("the first view is followed by the server's clock: {other:?}"),
            }
        }
    }

    pub async fn send(&mut self, m: &PublicClientMessage) -> Result<()> {
        self.send_raw(&serde_json::to_string(m)?).await
    }

    pub async fn send_raw(&mut self, text: &str) -> Result<()> {
        self.sink.send(Message::text(text.to_string())).await?;
        Ok(())
    }

    pub async fn send_binary(&mut self, b: Vec<u8>) -> Result<()> {
        self.sink.send(Message::binary(b)).await?;
        Ok(())
    }

    /// Close the connection (normal closure).
    pub async fn close(mut self) {
        let _ = self.sink.send(Message::Close(None)).await;
        let _ = self.sink.close().await;
    }

    /// Read one message within `within`: a parsed message, or an error if closed or silent.
    pub async fn next(&mut self, within: Duration) -> Result<PublicServerMessage> {
        if let Some(c) = self.closed {
            bail!("closed ({c:?})");
        }
        match tokio::time::timeout(within, self.rx.recv()).await {
            Ok(Some(Got::Text(t))) => {
                self.frames.push(t.clone());
                let m: PublicServerMessage = serde_json::from_str(&t)
                    .with_context(|| format!("not a public server message: {t}"))?;
                match &m {
                    PublicServerMessage::PublicView { view, .. } => {
                        self.view = Some((**view).clone());
                    }
                    // The count alone: the latest view with it.
                    PublicServerMessage::PublicCount { viewers } => {
                        if let Some(v) = self.view.as_mut() {
                            v.viewers = *viewers;
                        }
                    }
                    PublicServerMessage::Pong { .. }
                    | PublicServerMessage::PublicVoted { .. }
                    | PublicServerMessage::PublicVoteRefused { .. } => {}
                }
                Ok(m)
            }
            Ok(Some(Got::Closed(c))) => {
                self.closed = Some(c);
                bail!("closed ({c:?})")
            }
            Ok(None) => {
                self.closed = Some(None);
                bail!("closed")
            }
            Err(_) => bail!("nothing within {within:?}"),
        }
    }

    /// The view after the next `public_view` or `public_count`.
    pub async fn next_view(&mut self, within: Duration) -> Result<PublicView> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                PublicServerMessage::PublicView { view, .. } => return Ok(*view),
                PublicServerMessage::PublicCount { .. } => {
                    if let Some(v) = &self.view {
                        return Ok(v.clone());
                    }
                }
                PublicServerMessage::Pong { .. }
                | PublicServerMessage::PublicVoted { .. }
                | PublicServerMessage::PublicVoteRefused { .. } => {}
            }
        }
    }

    /// Answer a public poll: the server's answer (`public_voted` or `public_vote_refused`),
    /// views and counts that come meanwhile kept as usual.
    pub async fn vote(
        &mut self,
        poll: &str,
        choice: u32,
        browser: &str,
    ) -> Result<PublicServerMessage> {
        self.send(&PublicClientMessage::PublicVote {
            poll: poll.to_string(),
            choice,
            browser: browser.to_string(),
        })
        .await?;
        loop {
            if let m @ (PublicServerMessage::PublicVoted { .. }
            | PublicServerMessage::PublicVoteRefused { .. }) =
                self.next(Duration::from_secs(10)).await?
            {
                return Ok(m);
            }
        }
    }

    /// Views until one satisfies `f` (the latest view first).
    pub async fn wait_view(&mut self, f: impl Fn(&PublicView) -> bool) -> Result<PublicView> {
        if let Some(v) = self.view.as_ref().filter(|v| f(v)) {
            return Ok(v.clone());
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self
                .next_view(left)
                .await
                .with_context(|| format!("the awaited view never came; last: {:?}", self.view))?;
            if f(&v) {
                return Ok(v);
            }
        }
    }

    /// Read until closed; the close code.
    pub async fn wait_closed(&mut self, within: Duration) -> Result<Option<u16>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(c) = self.closed {
                return Ok(c);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                bail!("not closed within {within:?}");
            }
            let _ = self.next(left).await;
        }
    }

    /// Read whatever comes within `d`.
    pub async fn drain(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.next(left).await.is_err() {
                return;
            }
        }
    }
}

impl Organizer {
    /// `POST /api/conventions/{id}/public-link`.
    pub async fn public_link(&self, id: &str, livestream: Option<&str>) -> Result<PublicLink> {
        let r = self
            .post(&format!("/api/conventions/{id}/public-link"))
            .json(&serde_json::json!({ "livestream": livestream }))
            .send()
            .await?;
        if r.status() != 201 {
            bail!("public link: {} {}", r.status(), r.text().await?);
        }
        Ok(r.json().await?)
    }
}
