//! Collaborative-document types, as the JSON protocol shows them (the content itself travels
//! over the y-websocket endpoint).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A collaborative document as a participant sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentView {
    pub name: String,
    pub title: String,
    /// Writing groups whose citizens may write it.
    pub groups: Vec<String>,
    /// Whether you may write it (otherwise you read it).
    pub can_write: bool,
    pub versions: Vec<VersionInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VersionInfo {
    pub version: u32,
    pub label: String,
    pub at: u64,
}
