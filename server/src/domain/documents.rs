//! The convention's collaborative documents as the log knows them: which exist, who may
//! write each, and their named versions. Their content (Yjs updates) lives beside the log,
//! in the document store: it commutes, so it needs no sequence.

use std::collections::BTreeSet;

use super::{Code, Command, Convention, Event, Millis, ParticipantId, Person, Rejection, Role};

/// The document every convention's opinion is written in.
pub const OPINION: &str = "opinion";
/// Longest document, group or version name.
pub const MAX_DOC_NAME: usize = 64;
/// Most named versions of one document: each keeps the whole document (up to 16 MiB) in
/// the store, and every snapshot lists them.
pub const MAX_VERSIONS: usize = 100;
/// Most documents of a convention, and most writing groups: every snapshot lists them all.
pub const MAX_DOCUMENTS: usize = 50;
pub const MAX_WRITING_GROUPS: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub name: String,
    pub title: String,
    /// Writing groups whose members may write it.
    pub groups: BTreeSet<String>,
    /// Named versions: number (from 1), label, time.
    pub versions: Vec<(u32, String, Millis)>,
}

impl Convention {
    /// Facilitators and rapporteurs write every document; citizens those opened to their
    /// writing group; guarantors, experts and everyone else read.
    pub fn can_write(&self, person: &Person, document: &str) -> bool {
        if person.has(Role::Guarantor) {
            return false;
        }
        if person.has(Role::Facilitator) || person.has(Role::Rapporteur) {
            return true;
        }
        person.has(Role::Citizen)
            && self.documents.get(document).is_some_and(|d| {
                d.groups.iter().any(|g| {
                    self.writing_groups
                        .get(g)
                        .is_some_and(|m| m.contains(&person.id))
                })
            })
    }

    /// Who may write a document now.
    pub fn writers_of(&self, document: &str) -> BTreeSet<ParticipantId> {
        self.people
            .values()
            .filter(|p| self.can_write(p, document))
            .map(|p| p.id.clone())
            .collect()
    }
}

fn reject<T>(code: Code, message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(code, message))
}

/// Document and group names: lowercase letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DOC_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn document<'s>(state: &'s Convention, name: &str) -> Result<&'s Document, Rejection> {
    state
        .documents
        .get(name)
        .ok_or_else(|| Rejection::new(Code::NotFound, format!("no document {name}")))
}

/// Decide a document command (permission checked by the caller).
pub(super) fn decide(state: &Convention, command: &Command) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::CreateDocument { name, title } => {
            if !valid_name(name) {
                return reject(
                    Code::Invalid,
                    "a document name is 1 to 64 lowercase letters, digits, - or _",
                );
            }
            if state.documents.contains_key(name) {
                return reject(Code::Conflict, format!("document {name} exists"));
            }
            if state.documents.len() >= MAX_DOCUMENTS {
                return reject(
                    Code::Conflict,
                    format!("a convention has at most {MAX_DOCUMENTS} documents"),
                );
            }
            let title = title.trim();
            if title.is_empty() || title.chars().count() > super::MAX_NAME_CHARS {
                return reject(Code::Invalid, "a title is 1 to 120 characters");
            }
            if super::decide::has_control(title) {
                return reject(
                    Code::Invalid,
                    "a title may not hold control characters (but line breaks and tabs)",
                );
            }
            Ok(vec![Event::DocumentCreated {
                name: name.clone(),
                title: title.to_string(),
            }])
        }
        Command::SetWritingGroup { group, members } => {
            if !valid_name(group) {
                return reject(
                    Code::Invalid,
                    "a group name is 1 to 64 lowercase letters, digits, - or _",
                );
            }
            if !state.writing_groups.contains_key(group)
                && state.writing_groups.len() >= MAX_WRITING_GROUPS
            {
                return reject(
                    Code::Conflict,
                    format!("a convention has at most {MAX_WRITING_GROUPS} writing groups"),
                );
            }
            let mut set = BTreeSet::new();
            for m in members {
                match state.people.get(m) {
                    None => return reject(Code::NotFound, format!("no participant {m}")),
                    Some(p) if p.has(Role::Guarantor) => {
                        return reject(Code::Invalid, "guarantors never write")
                    }
                    Some(_) => {
                        set.insert(m.clone());
                    }
                }
            }
            Ok(vec![Event::WritingGroupSet {
                group: group.clone(),
                members: set.into_iter().collect(),
            }])
        }
        Command::OpenDocument {
            document: name,
            group,
        } => {
            let d = document(state, name)?;
            if !state.writing_groups.contains_key(group) {
                return reject(Code::NotFound, format!("no writing group {group}"));
            }
            if d.groups.contains(group) {
                return reject(Code::Conflict, format!("{name} is already open to {group}"));
            }
            Ok(vec![Event::DocumentOpened {
                document: name.clone(),
                group: group.clone(),
            }])
        }
        Command::CloseDocument {
            document: name,
            group,
        } => {
            if !document(state, name)?.groups.contains(group) {
                return reject(Code::Conflict, format!("{name} is not open to {group}"));
            }
            Ok(vec![Event::DocumentClosed {
                document: name.clone(),
                group: group.clone(),
            }])
        }
        Command::NameVersion {
            document: name,
            label,
        } => {
            let d = document(state, name)?;
            let label = label.trim();
            if label.is_empty() || label.chars().count() > super::MAX_NAME_CHARS {
                return reject(Code::Invalid, "a version label is 1 to 120 characters");
            }
            if super::decide::has_control(label) {
                return reject(
                    Code::Invalid,
                    "a version label may not hold control characters (but line breaks and tabs)",
                );
            }
            if d.versions.len() >= MAX_VERSIONS {
                return reject(
                    Code::Conflict,
                    format!("{name} has {MAX_VERSIONS} named versions already"),
                );
            }
            let version = d.versions.last().map_or(1, |(n, _, _)| n + 1);
            Ok(vec![Event::VersionNamed {
                document: name.clone(),
                version,
                label: label.to_string(),
            }])
        }
        _ => reject(Code::Invalid, "not a document command"),
    }
}

pub(super) fn apply(state: &mut Convention, event: &Event, at: Millis) {
    match event {
        Event::DocumentCreated { name, title } => {
            state.documents.insert(
                name.clone(),
                Document {
                    name: name.clone(),
                    title: title.clone(),
                    groups: BTreeSet::new(),
                    versions: Vec::new(),
                },
            );
        }
        Event::WritingGroupSet { group, members } => {
            state
                .writing_groups
                .insert(group.clone(), members.iter().cloned().collect());
        }
        Event::DocumentOpened { document, group } => {
            if let Some(d) = state.documents.get_mut(document) {
                d.groups.insert(group.clone());
            }
        }
        Event::DocumentClosed { document, group } => {
            if let Some(d) = state.documents.get_mut(document) {
                d.groups.remove(group);
            }
        }
        Event::VersionNamed {
            document,
            version,
            label,
        } => {
            if let Some(d) = state.documents.get_mut(document) {
                d.versions.push((*version, label.clone(), at));
            }
        }
        _ => {}
    }
}
