//! The spec of a `load` stage.

use serde::{Deserialize, Serialize};

/// Parameters of a `load` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadStage {
    /// What the stage is for, in a sentence.
    pub description: String,
    /// `"all"` for every dataset the catalog declares, or a list of dataset ids.
    pub datasets: DatasetSelection,
}

/// Which datasets a load stage reads.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum DatasetSelection {
    /// The literal `"all"`.
    All(String),
    List(Vec<String>),
}
