//! The areas' dictionary: what thousands of area files would otherwise
//! each repeat, said once in `dictionary.json`.
//!
//! A section's title, the reasons for the fields its source lacks and the
//! directions of its measures are the same in every area that shows it;
//! so are the caveats, which each apply to a whole edition, area type or
//! section (or to one named area). Repeated in each of 61,400 files they
//! were 46% of the API's JSON (632.6 MB of it; 338.7 MB without them),
//! and much of the time spent writing and compressing it. An area file
//! keeps every value it publishes, and refers to this text: a section by
//! its `group.key`, a caveat by its position, and a section whose table is
//! missing from the release by its `group.key` alone.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use super::sections::SectionData;
use super::ApiStage;
use crate::contract::Frames;
use crate::hash::HashMap;

/// Every caveat of the spec, numbered in spec order: the editions', the
/// area types', the sections', then single areas'.
pub struct Caveats<'a> {
    texts: Vec<&'a str>,
    ids: HashMap<&'a str, usize>,
}

impl<'a> Caveats<'a> {
    pub fn of(spec: &'a ApiStage) -> Caveats<'a> {
        let all = spec
            .caveats
            .iter()
            .chain(spec.area_types.iter().flat_map(|t| &t.caveats))
            .chain(spec.sections.iter().filter_map(|s| s.caveat.as_ref()))
            .chain(spec.area_caveats.values());
        let mut c = Caveats {
            texts: Vec::new(),
            ids: HashMap::default(),
        };
        for text in all {
            if !c.ids.contains_key(text.as_str()) {
                c.ids.insert(text, c.texts.len());
                c.texts.push(text);
            }
        }
        c
    }

    /// The position of a caveat of the spec; an error for any other text
    /// (a caveat made up while building would have no words to refer to).
    pub fn id(&self, text: &str) -> crate::error::Result<usize> {
        self.ids.get(text).copied().ok_or_else(|| {
            crate::error::Error::table(format!(
                "the caveat {text:?} is not in the API's dictionary"
            ))
        })
    }
}

/// `dictionary.json`: every section's shared text, by `group.key`, and the
/// caveats, by position.
pub struct Dictionary<'a> {
    pub spec: &'a ApiStage,
    pub sections: &'a [Option<SectionData>],
    pub caveats: &'a Caveats<'a>,
    pub inputs: &'a Frames<'a>,
}

/// What the dictionary says of itself, for a reader who opens it alone.
const ABOUT: &str = "Text shared by the area files, said once. An area file's section `group.key` \
     (for example deprivation.imd_england_2019) has its title, table, the reasons for the fields its \
     source lacks (`missing`: those fields are null in the file) and the directions of its measures \
     under sections[\"group.key\"], and, when the section's table is not in this release, why \
     (`unavailable`: an area file lists such a section under its own `unavailable` without a reason); an area file's caveats are positions, counted from 0, in `caveats`. \
     This dictionary belongs to the area files beside it (../dictionary.json from each): positions \
     change between releases.";

impl Serialize for Dictionary<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(3))?;
        m.serialize_entry("about", ABOUT)?;
        m.serialize_entry("sections", &SectionsView(self))?;
        m.serialize_entry("caveats", &self.caveats.texts)?;
        m.end()
    }
}

struct SectionsView<'a>(&'a Dictionary<'a>);

impl Serialize for SectionsView<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        ser.collect_map(d.spec.sections.iter().zip(d.sections).map(|(s, data)| {
            let data = data.as_ref();
            let entry = SectionText {
                title: &s.title,
                table: &s.table,
                missing: data.and_then(|d| d.missing.as_deref()),
                directions: data.and_then(|d| d.directions.as_deref()),
                unavailable: data.is_none().then(|| {
                    format!(
                        "table `{}` is unavailable: {}",
                        s.table,
                        d.inputs.why_unavailable(&s.table)
                    )
                }),
            };
            (s.id(), entry)
        }))
    }
}

/// A section's shared text: the fields without reasons or directions are
/// left out.
#[derive(serde::Serialize)]
struct SectionText<'a> {
    title: &'a str,
    table: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    directions: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
}
