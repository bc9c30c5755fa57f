//! The spec of a `ward_assignment` stage.

use serde::{Deserialize, Serialize};

/// Parameters of a `ward_assignment` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WardStage {
    pub description: String,
    pub table: String,
    /// The ward vintage, e.g. `WD24`.
    pub ward_vintage: String,
    /// How the look-up assigns areas, in words (published on every row).
    pub assignment: String,
    pub lookup: WardLookup,
    /// Boundary checks; absent where the catalog has no boundaries.
    #[serde(default)]
    pub geometry: Option<GeometrySpec>,
    /// Why the boundary checks cannot run, when `geometry` is absent.
    #[serde(default)]
    pub geometry_not_available: Option<String>,
}

/// Column names in the look-up, which are also the output names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WardLookup {
    pub table: String,
    pub key: String,
    pub name: String,
    pub ward_code: String,
    pub ward_name: String,
    pub lad_code: String,
    pub lad_name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GeometrySpec {
    /// Population-weighted centroids in British National Grid metres.
    pub centroids: CentroidSpec,
    /// Small-area polygons (GeoJSON, WGS84).
    pub areas: LayerSpec,
    /// Ward polygons (GeoJSON, WGS84), and their vintage.
    pub wards: LayerSpec,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CentroidSpec {
    pub table: String,
    pub key: String,
    pub x: String,
    pub y: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    pub table: String,
    pub key: String,
    pub geometry: String,
    /// The layer's vintage, when it may differ from the look-up's.
    #[serde(default)]
    pub vintage: Option<String>,
}
