//! The API spec checked against itself and against the tables it reads:
//! every area type, parent, section and column it names must exist.

use super::{ApiStage, Filter, Shape};
use crate::contract::Validator;
use crate::hash::HashSet;

/// The fields of an area file beside its section groups: a group of the
/// same name would write the key twice.
const RESERVED: [&str; 8] = [
    "code",
    "name",
    "types",
    "names",
    "parents",
    "dictionary",
    "caveats",
    "unavailable",
];

impl ApiStage {
    /// The spec's internal references.
    pub fn validate_spec(&self, v: &mut Validator<'_>) {
        let types: Vec<&str> = self.area_types.iter().map(|a| a.id.as_str()).collect();
        if !self.base.split('/').all(crate::catalog::is_identifier) {
            v.error(format!(
                "field `base` must be a relative path of identifiers such as `api/v2`, got {:?}",
                self.base
            ));
        }
        let mut seen = HashSet::default();
        for a in &self.area_types {
            if !seen.insert(a.id.as_str()) {
                v.error(format!(": area type `{}` is declared twice", a.id));
            }
            if a.registers.is_empty() {
                v.error(format!(": area type `{}` has no register", a.id));
            }
            for r in &a.registers {
                for p in r.parents.keys().chain(r.parents_by_name.keys()) {
                    if !types.contains(&p.as_str()) {
                        v.error(format!(
                            ": area type `{}` register `{}` names parent type `{p}`, which is not an area type",
                            a.id, r.table
                        ));
                    }
                }
                check_filter(&r.filter, v);
            }
        }
        for (code, caveat) in &self.area_caveats {
            if !self.area_types.iter().any(|a| a.pattern.is_match(code)) {
                v.error(format!(
                    "field `area_caveats` names `{code}`, which matches no area type's pattern"
                ));
            }
            if caveat.trim().is_empty() {
                v.error(format!("field `area_caveats.{code}` is empty"));
            }
        }
        let mut keys = HashSet::default();
        for s in &self.sections {
            let id = s.id();
            if !keys.insert(id.clone()) {
                v.error(format!(": section `{id}` is declared twice"));
            }
            if RESERVED.contains(&s.group.as_str()) {
                v.error(format!(
                    ": section `{id}`: group `{}` is a field of every area file; name the group otherwise",
                    s.group
                ));
            }
            if !types.contains(&s.area_type.as_str()) {
                v.error(format!(
                    ": section `{id}` is for area type `{}`, which is not declared",
                    s.area_type
                ));
            }
            if (s.shape == Shape::Keyed) != s.by.is_some() {
                v.error(format!(
                    ": section `{id}`: `by` is required with shape = \"keyed\" and only then"
                ));
            }
            check_filter(&s.filter, v);
        }
        if let Some(p) = &self.postcodes {
            for e in &p.editions {
                if !p.small_areas.contains_key(&e.small_area) {
                    v.error(format!(
                        ": postcodes edition `{}` looks up `{}`, which is not one of `small_areas`",
                        e.key, e.small_area
                    ));
                }
            }
            if p.quantiles.iter().any(|q| *q < 2) {
                v.error(": postcodes field `quantiles` must list numbers of bands, 2 or more");
            }
        }
    }

    /// Every column a register, section or the postcodes name exists.
    pub fn validate_columns(&self, v: &mut Validator<'_>) {
        for a in &self.area_types {
            for (i, r) in a.registers.iter().enumerate() {
                let field = format!("area_types.{}.registers[{i}]", a.id);
                v.column(&format!("{field}.code"), &r.table, &r.code);
                v.columns(&format!("{field}.name"), &r.table, &r.name);
                v.columns(&format!("{field}.parents"), &r.table, r.parents.values());
                v.columns(
                    &format!("{field}.parents_by_name"),
                    &r.table,
                    r.parents_by_name.values(),
                );
                v.columns(
                    &format!("{field}.filter"),
                    &r.table,
                    r.filter.iter().map(|f| &f.column),
                );
            }
        }
        for s in &self.sections {
            let field = format!("sections.{}", s.id());
            v.column(&format!("{field}.code"), &s.table, &s.code);
            v.columns(&format!("{field}.by"), &s.table, &s.by);
            v.columns(
                &format!("{field}.columns"),
                &s.table,
                s.columns.iter().flatten(),
            );
            v.columns(&format!("{field}.exclude"), &s.table, &s.exclude);
            v.columns(
                &format!("{field}.filter"),
                &s.table,
                s.filter.iter().map(|f| &f.column),
            );
        }
        if let Some(p) = &self.postcodes {
            v.columns("postcodes", &p.table, p.columns());
            for e in &p.editions {
                let f = format!("postcodes.editions.{}", e.key);
                v.columns(&f, &e.index, [&e.code, &e.rank, &e.decile]);
                v.columns(&f, &e.index, &e.quintile);
            }
        }
    }
}

fn check_filter(f: &Option<Filter>, v: &mut Validator<'_>) {
    if let Some(f) = f {
        if f.equals.is_some() == f.prefix.is_some() {
            v.error(format!(
                ": a filter on `{}` needs exactly one of `equals` and `prefix`",
                f.column
            ));
        }
    }
}
