//! The opinion's structure and its exports. See docs/DOCUMENT_SCHEMA.md.
//!
//! The document is a ProseMirror tree in the Yjs `XmlFragment` named `prosemirror` (the name
//! `y-prosemirror` uses by default). Node types:
//! - `heading` (attribute `level`: 1 to 3), `paragraph`, `bullet_list` > `list_item`;
//! - `proposal` (attribute `title`): a recommendation, containing paragraphs, arguments and
//!   minority positions;
//! - `argument` (attribute `kind`: `for`, `against` or `moderating`);
//! - `minority`: a minority position, which the export always keeps.
//!
//! Inline text carries the marks `bold` and `italic`.

use yrs::types::text::{Diff, YChange};
use yrs::types::xml::{Xml, XmlFragment, XmlOut};
use yrs::{Any, Doc, Out, ReadTxn, Text, Transact};

use super::nesting::MAX_DEPTH;

/// The name of the document's root fragment.
pub const ROOT: &str = "prosemirror";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

/// One block of the document, read out of the Yjs tree.
#[derive(Clone, Debug, PartialEq)]
enum Block {
    Heading(u8, Vec<Span>),
    Paragraph(Vec<Span>),
    List(Vec<Vec<Span>>),
    Proposal {
        title: String,
        body: Vec<Block>,
        arguments: Vec<(ArgKind, Vec<Span>)>,
        minorities: Vec<Vec<Span>>,
    },
    Minority(Vec<Span>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArgKind {
    For,
    Against,
    Moderating,
}

#[derive(Clone, Debug, PartialEq)]
struct Span {
    text: String,
    bold: bool,
    italic: bool,
}

/// An attribute's value, when it is a plain value. One that is a shared type (which
/// ProseMirror never writes) is left out: yrs would write it out recursively.
fn attr<T: ReadTxn>(e: &yrs::XmlElementRef, txn: &T, name: &str) -> Option<String> {
    match e.get_attribute(txn, name)? {
        Out::Any(Any::String(s)) => Some(s.to_string()),
        Out::Any(Any::Number(n)) => Some(n.to_string()),
        // A value nests at most `MAX_DEPTH` levels (checked on the way in).
        Out::Any(other) => Some(other.to_string()),
        _ => None,
    }
}

/// The inline text of a node at `level` (a top-level block is at level 1): every text in it,
/// in order, with its marks. Iterative, and blind below `MAX_DEPTH` levels: a document stored
/// before the nesting limit existed may be 10,000 levels deep.
fn spans<T: ReadTxn>(node: &XmlOut, txn: &T, level: u16) -> Vec<Span> {
    let mut out = Vec::new();
    let mut stack = vec![(node.clone(), level)];
    while let Some((node, level)) = stack.pop() {
        if level > MAX_DEPTH {
            continue;
        }
        let children: Vec<XmlOut> = match &node {
            XmlOut::Text(t) => {
                for d in t.diff(txn, YChange::identity) {
                    let Diff {
                        insert, attributes, ..
                    } = d;
                    let text = match insert {
                        Out::Any(Any::String(s)) => s.to_string(),
                        _ => continue,
                    };
                    let has = |k: &str| attributes.as_ref().is_some_and(|a| a.contains_key(k));
                    out.push(Span {
                        text,
                        bold: has("bold") || has("strong"),
                        italic: has("italic") || has("em"),
                    });
                }
                continue;
            }
            XmlOut::Element(e) => e.children(txn).collect(),
            XmlOut::Fragment(f) => f.children(txn).collect(),
        };
        stack.extend(children.into_iter().rev().map(|c| (c, level + 1)));
    }
    out
}

/// A block of the document at `level`. Proposals hold blocks (and may hold proposals): past
/// `MAX_DEPTH` levels a block is read as a paragraph of its text, so that neither this walk
/// nor the `Block` tree it builds is deeper than that.
fn block<T: ReadTxn>(node: &XmlOut, txn: &T, level: u16) -> Option<Block> {
    let XmlOut::Element(e) = node else {
        return Some(Block::Paragraph(spans(node, txn, level)));
    };
    if level >= MAX_DEPTH {
        return Some(Block::Paragraph(spans(node, txn, level)));
    }
    Some(match e.tag().as_ref() {
        "heading" => {
            let level_attr = attr(e, txn, "level")
                .and_then(|l| l.parse::<f64>().ok())
                .unwrap_or(1.0)
                .clamp(1.0, 3.0) as u8;
            Block::Heading(level_attr, spans(node, txn, level))
        }
        "bullet_list" | "ordered_list" => Block::List(
            e.children(txn)
                .map(|item| spans(&item, txn, level + 1))
                .collect(),
        ),
        "proposal" => {
            let mut body = Vec::new();
            let mut arguments = Vec::new();
            let mut minorities = Vec::new();
            for child in e.children(txn) {
                match &child {
                    XmlOut::Element(c) if c.tag().as_ref() == "argument" => {
                        let kind = match attr(c, txn, "kind").as_deref() {
                            Some("against") => ArgKind::Against,
                            Some("moderating") => ArgKind::Moderating,
                            _ => ArgKind::For,
                        };
                        arguments.push((kind, spans(&child, txn, level + 1)));
                    }
                    XmlOut::Element(c) if c.tag().as_ref() == "minority" => {
                        minorities.push(spans(&child, txn, level + 1))
                    }
                    _ => body.extend(block(&child, txn, level + 1)),
                }
            }
            Block::Proposal {
                title: attr(e, txn, "title").unwrap_or_default(),
                body,
                arguments,
                minorities,
            }
        }
        "minority" => Block::Minority(spans(node, txn, level)),
        _ => Block::Paragraph(spans(node, txn, level)),
    })
}

fn blocks(doc: &Doc) -> Vec<Block> {
    let txn = doc.transact();
    let Some(root) = txn.get_xml_fragment(ROOT) else {
        return Vec::new();
    };
    root.children(&txn)
        .filter_map(|n| block(&n, &txn, 1))
        .collect()
}

fn md_inline(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match (s.bold, s.italic) {
            (true, true) => format!("***{}***", s.text),
            (true, false) => format!("**{}**", s.text),
            (false, true) => format!("*{}*", s.text),
            (false, false) => s.text.clone(),
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_inline(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| {
            let mut t = html_escape(&s.text);
            if s.italic {
                t = format!("<em>{t}</em>");
            }
            if s.bold {
                t = format!("<strong>{t}</strong>");
            }
            t
        })
        .collect()
}

const ARG_LABELS: [(ArgKind, &str, &str); 3] = [
    (ArgKind::For, "Arguments pour", "for"),
    (ArgKind::Against, "Arguments contre", "against"),
    (ArgKind::Moderating, "Arguments qui nuancent", "moderating"),
];

fn markdown(blocks: &[Block], out: &mut String, proposal_no: &mut usize) {
    for b in blocks {
        match b {
            Block::Heading(level, s) => out.push_str(&format!(
                "{} {}\n\n",
                "#".repeat(*level as usize),
                md_inline(s)
            )),
            Block::Paragraph(s) if s.iter().all(|x| x.text.trim().is_empty()) => {}
            Block::Paragraph(s) => out.push_str(&format!("{}\n\n", md_inline(s))),
            Block::List(items) => {
                for i in items {
                    out.push_str(&format!("- {}\n", md_inline(i)));
                }
                out.push('\n');
            }
            Block::Proposal {
                title,
                body,
                arguments,
                minorities,
            } => {
                *proposal_no += 1;
                let title = if title.is_empty() {
                    String::new()
                } else {
                    format!(" : {title}")
                };
                out.push_str(&format!("## Proposition {}{title}\n\n", proposal_no));
                markdown(body, out, proposal_no);
                for (kind, label, _) in ARG_LABELS {
                    let of_kind: Vec<&Vec<Span>> = arguments
                        .iter()
                        .filter(|(k, _)| *k == kind)
                        .map(|(_, s)| s)
                        .collect();
                    if !of_kind.is_empty() {
                        out.push_str(&format!("**{label}**\n\n"));
                        for a in of_kind {
                            out.push_str(&format!("- {}\n", md_inline(a)));
                        }
                        out.push('\n');
                    }
                }
                for m in minorities {
                    out.push_str(&format!(
                        "> **Position minoritaire** : {}\n\n",
                        md_inline(m)
                    ));
                }
            }
            Block::Minority(s) => out.push_str(&format!(
                "> **Position minoritaire** : {}\n\n",
                md_inline(s)
            )),
        }
    }
}

fn html(blocks: &[Block], out: &mut String, proposal_no: &mut usize) {
    for b in blocks {
        match b {
            Block::Heading(level, s) => out.push_str(&format!("<h{level}>{}</h{level}>\n", html_inline(s))),
            Block::Paragraph(s) if s.iter().all(|x| x.text.trim().is_empty()) => {}
            Block::Paragraph(s) => out.push_str(&format!("<p>{}</p>\n", html_inline(s))),
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    out.push_str(&format!("<li>{}</li>\n", html_inline(i)));
                }
                out.push_str("</ul>\n");
            }
            Block::Proposal { title, body, arguments, minorities } => {
                *proposal_no += 1;
                let title = if title.is_empty() { String::new() } else { format!(" : {}", html_escape(title)) };
                out.push_str(&format!("<section class=\"proposal\">\n<h2>Proposition {}{title}</h2>\n", proposal_no));
                html(body, out, proposal_no);
                for (kind, label, class) in ARG_LABELS {
                    let of_kind: Vec<&Vec<Span>> = arguments.iter().filter(|(k, _)| *k == kind).map(|(_, s)| s).collect();
                    if !of_kind.is_empty() {
                        out.push_str(&format!("<h3>{label}</h3>\n<ul class=\"arguments {class}\">\n"));
                        for a in of_kind {
                            out.push_str(&format!("<li>{}</li>\n", html_inline(a)));
                        }
                        out.push_str("</ul>\n");
                    }
                }
                for m in minorities {
                    out.push_str(&format!(
                        "<blockquote class=\"minority\"><strong>Position minoritaire</strong> : {}</blockquote>\n",
                        html_inline(m)
                    ));
                }
                out.push_str("</section>\n");
            }
            Block::Minority(s) => out.push_str(&format!(
                "<blockquote class=\"minority\"><strong>Position minoritaire</strong> : {}</blockquote>\n",
                html_inline(s)
            )),
        }
    }
}

/// Export a document.
pub fn export(doc: &Doc, title: &str, format: Format) -> String {
    let blocks = blocks(doc);
    let mut n = 0;
    match format {
        Format::Markdown => {
            let mut out = format!("# {title}\n\n");
            markdown(&blocks, &mut out, &mut n);
            out
        }
        Format::Html => {
            let mut body = String::new();
            html(&blocks, &mut body, &mut n);
            format!(
                "<!doctype html>\n<html lang=\"fr\">\n<head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body>\n<h1>{t}</h1>\n{body}</body>\n</html>\n",
                t = html_escape(title)
            )
        }
    }
}

/// A document from a stored state (a named version), loaded as a live document is: a
/// version an older server stored too deep loads, and its export stays depth-limited.
pub fn doc_from_state(state: &[u8]) -> Result<Doc, String> {
    super::live::load_doc([state])
}
