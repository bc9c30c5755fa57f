//! `openapi.json`: the OpenAPI 3.1 description of the static API.

use serde_json::{json, Map, Value};

use super::{ApiStage, Shape};

/// The OpenAPI 3.1 description of the static API.
pub fn openapi(spec: &ApiStage) -> Value {
    let base = format!("/{}", spec.base);
    let area_props = area_properties(spec);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "UK deprivation and Census 2021: static API",
            "version": spec.base.rsplit('/').next().unwrap_or("v1"),
            "description": format!("{} Static JSON files: fetch them with GET; no query parameters. An area file holds its values; the text it shares with every other area file (section titles, the reasons for null fields, the directions of measures, caveats) is in `/{}/dictionary.json`, referred to by section key and caveat position: fetch it once per release, beside the area files (an area file's `dictionary` is its address relative to the file; positions change between releases). Every JSON file under `/{}/` is stored gzip-encoded, and the release's bucket serves it with `Content-Encoding: gzip` whatever the request's `Accept-Encoding` says. Clients must decode gzip: browsers, Python `requests`, `curl --compressed` and R's `httr` do so by themselves; Python's `urllib`, Java's and .NET's `HttpClient` need it switched on. A copy of the release served by a plain static server sends the gzip bytes without the header: a client that receives bytes beginning 1f 8b should gunzip them. Rank 1 = most deprived; decile 1 = most deprived 10%; ranks, deciles and scores compare only within one nation and edition.", spec.description, spec.base, spec.base),
            "license": {"name": "OGL-UK-3.0", "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"},
        },
        "paths": paths(&base),
        "components": components(area_props),
        "x-original-platform": original_platform(spec),
    })
}

/// The header every API file is served with (see `writer`).
fn encoded() -> Value {
    json!({"Content-Encoding": {"description": "Sent by the release's bucket: the body is the JSON gzip-encoded, whatever the request's Accept-Encoding; decode it. A plain static server sends the same gzip bytes without this header.", "schema": {"type": "string", "enum": ["gzip"]}}})
}

/// How each endpoint of the original platform (that the audit software
/// calls) maps to these static files.
fn original_platform(spec: &ApiStage) -> Value {
    let Some(pc) = &spec.postcodes else {
        return json!({});
    };
    let editions: Vec<Value> = pc
        .editions
        .iter()
        .map(|e| json!({"nation": e.nation, "country": e.country, "year": e.year, "edition": e.key, "small_area": e.small_area.trim_end_matches("_code")}))
        .collect();
    let base = &spec.base;
    json!({
        "/indices_of_multiple_deprivation?postcode=P&year=Y": format!(
            "GET /{base}/postcodes/<outcode of P>.json; p = postcodes[P normalised]; place = places[p.place]; \
             the edition is the one of `editions` whose `country` is place.country, of year Y, or the latest before it, or the nation's only one \
             (2019 and 2025 for England and Wales, 2020 for Scotland (SIMD 2020v2), 2017 for Northern Ireland); \
             its small area is place.small_areas[edition.small_area], and the answer areas[that code][edition] (rank, n, decile, quintile, quantiles). \
             Every domain's rank, decile and score is in the small area's own file, areas[code].href (relative to the outcode file's URL), under `deprivation`, \
             with the original's field names (imd_rank, imd_decile, income_rank, ...). A missing answer says why in place.missing or place.reason."
        ),
        "/index_of_multiple_deprivation_quantile?postcode=P&quantile=Q": format!(
            "As above with year 2019 (the original answered from IMD 2019 in England and WIMD 2019 in Wales); the answer is \
             areas[code][edition].quantiles[i] where the file's quantiles[i] is Q, and Q must be one of {:?}. \
             Quantiles are ceil(rank x Q / N): the original computed floor(rank / (N / Q)) + 1, which gives Q + 1 to the last area \
             and differs at band edges (see {base}/postcodes/migration.md, which counts them).",
            pc.quantiles
        ),
        "editions": editions,
    })
}

/// The properties of an area file: its identity, parents, one object per
/// group of sections, the dictionary's address, caveats and gaps.
fn area_properties(spec: &ApiStage) -> Map<String, Value> {
    let groups: Vec<String> = {
        let mut g: Vec<String> = spec.sections.iter().map(|s| s.group.clone()).collect();
        let mut seen = crate::hash::HashSet::default();
        g.retain(|x| seen.insert(x.clone()));
        g
    };
    let mut group_props = Map::new();
    for g in &groups {
        let keys: Map<String, Value> = spec
            .sections
            .iter()
            .filter(|s| &s.group == g)
            .map(|s| {
                (
                    s.key.clone(),
                    json!({
                        "description": format!("{} (table `{}`, for {} areas{}). {}",
                            s.title, s.table, s.area_type,
                            s.applies_to.as_ref().map(|p| format!(" with codes matching {p}")).unwrap_or_default(),
                            match s.shape {
                                Shape::One => "The row's fields sit beside `table`; field meanings are in datapackage.json.",
                                Shape::Many => "The rows are listed under `rows`.",
                                Shape::Keyed => "The rows are under `values`, keyed by the `by` column; null fields are left out where `status`/`reason` explain them.",
                            }),
                        "$ref": "#/components/schemas/Section",
                    }),
                )
            })
            .collect();
        group_props.insert(
            g.clone(),
            json!({"type": "object", "description": format!("Sections of group `{g}`."), "properties": keys}),
        );
    }
    let type_list: Vec<Value> = spec.area_types.iter().map(|a| json!(a.id)).collect();
    let mut area_props = Map::new();
    area_props.insert(
        "code".into(),
        json!({"type": "string", "description": "The GSS (or NI SOA) code; also the file name."}),
    );
    area_props.insert(
        "name".into(),
        json!({"type": ["string", "null"], "description": "The area's name under its first type."}),
    );
    area_props.insert("types".into(), json!({"type": "array", "description": "Every area type (geography and vintage) this code denotes; labels are in areas/index.json.", "items": {"type": "string", "enum": type_list}}));
    area_props.insert("names".into(), json!({"type": "object", "description": "The area's name under each of its types (null where the register gives none).", "additionalProperties": {"type": ["string", "null"]}}));
    area_props.insert("parents".into(), json!({"type": "object", "description": "Parent geographies by area type id.", "additionalProperties": {"$ref": "#/components/schemas/Parent"}}));
    for (g, v) in group_props {
        area_props.insert(g, v);
    }
    area_props.insert("dictionary".into(), json!({"type": "string", "description": "The address of the dictionary, relative to this file (../dictionary.json): each section's title, missing-field reasons and directions, and the caveats' text."}));
    area_props.insert("caveats".into(), json!({"type": "array", "items": {"type": "integer"}, "description": "What a reader must know before using these figures: positions, counted from 0, in the dictionary's `caveats` (the dictionary beside this file: positions change between releases)."}));
    area_props.insert("unavailable".into(), json!({"type": "array", "description": "Sections that apply to this area but have no data, with the reason (for a section whose table is missing from the release, the reason is the dictionary's sections[section].unavailable).", "items": {"$ref": "#/components/schemas/Unavailable"}}));
    area_props
}

/// The five kinds of file, by path.
fn paths(base: &str) -> Value {
    json!({
        format!("{base}/areas/{{code}}.json"): {
            "get": {
                "summary": "Everything published about one area code",
                "operationId": "getArea",
                "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9]+$"}, "description": "An area code, as listed in areas/index.json."}],
                "responses": {
                    "200": {"description": "The area.", "headers": encoded(), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Area"}}}},
                    "404": {"description": "No area has this code in this release."},
                },
            },
        },
        format!("{base}/dictionary.json"): {
            "get": {
                "summary": "The text every area file shares, said once: each section's title, reasons and directions, and the caveats",
                "operationId": "getDictionary",
                "responses": {"200": {"description": "The dictionary.", "headers": encoded(), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dictionary"}}}}},
            },
        },
        format!("{base}/areas/index.json"): {
            "get": {
                "summary": "Every area code with its name and types",
                "operationId": "listAreas",
                "responses": {"200": {"description": "The index.", "headers": encoded(), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AreaIndex"}}}}},
            },
        },
        format!("{base}/postcodes/{{outcode}}.json"): {
            "get": {
                "summary": "Every postcode of an outcode: status and small areas, and each small area's deprivation in every edition",
                "operationId": "getOutcode",
                "parameters": [{"name": "outcode", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Z]{1,2}[0-9][A-Z0-9]?$"}, "description": "The outward code in upper case, e.g. BT1. Normalise a postcode by upper-casing it and removing spaces; the outcode is all but its last three characters."}],
                "responses": {
                    "200": {"description": "The outcode's postcodes.", "headers": encoded(), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outcode"}}}},
                    "404": {"description": "No postcode of this outcode is in the look-up of this release (a bucket that does not let clients list it answers 403 instead). postcodes/index.json lists every outcode that has a file."},
                },
            },
        },
        format!("{base}/postcodes/index.json"): {
            "get": {
                "summary": "Every outcode, with its number of postcodes",
                "operationId": "listOutcodes",
                "responses": {"200": {"description": "The index.", "headers": encoded(), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PostcodeIndex"}}}}},
            },
        },
    })
}

/// The schemas the paths refer to.
fn components(area_props: Map<String, Value>) -> Value {
    json!({
        "schemas": {
            "Area": {"type": "object", "required": ["code", "name", "types", "names", "parents", "dictionary", "caveats", "unavailable"], "properties": area_props},
            "Parent": {"type": "object", "required": ["code", "name"], "properties": {
                "code": {"type": ["string", "null"]},
                "name": {"type": ["string", "null"]},
                "note": {"type": "string"},
            }},
            "Section": {"type": "object", "required": ["table"], "description": "One section's values for this area. Its title, the reasons for its null fields and the directions of its measures are the dictionary's sections[\"group.key\"].", "properties": {
                "table": {"type": "string", "description": "The release table the values come from (tables/<table>.parquet)."},
                "rows": {"type": "array", "items": {"type": "object"}},
                "values": {"type": "object", "additionalProperties": {"type": "object"}},
            }, "additionalProperties": true},
            "Dictionary": {"type": "object", "required": ["about", "sections", "caveats"], "properties": {
                "about": {"type": "string"},
                "sections": {"type": "object", "description": "`group.key` -> the section's shared text.", "additionalProperties": {"$ref": "#/components/schemas/SectionText"}},
                "caveats": {"type": "array", "items": {"type": "string"}, "description": "Caveats, referred to by position (counted from 0) from an area file's `caveats`."},
            }},
            "SectionText": {"type": "object", "required": ["title", "table"], "properties": {
                "title": {"type": "string"},
                "table": {"type": "string"},
                "missing": {"type": "object", "description": "Fields the source does not provide (null in every area file), with the reason.", "additionalProperties": {"type": "string"}},
                "directions": {"type": "object", "description": "For each field whose direction is not \"1 = most deprived\": which end is more deprived (or more favourable), in words. In a census section, for each indicator that has a direction; an indicator not listed is given none (it describes the area).", "additionalProperties": {"type": "string"}},
                "unavailable": {"type": "string", "description": "Present when the section's table is not in this release: why. Every area the section applies to lists it under `unavailable`, without a reason of its own."},
            }},
            "Unavailable": {"type": "object", "required": ["section"], "properties": {
                "section": {"type": "string", "description": "`group.key`."},
                "reason": {"type": "string", "description": "Why this area has no data in the section. Absent when the section's whole table is not in this release: the dictionary's sections[section].unavailable says why, once for every area."},
            }},
            "AreaIndex": {"type": "object", "required": ["count", "types", "areas"], "properties": {
                "count": {"type": "integer"},
                "types": {"type": "array", "items": {"type": "object"}},
                "areas": {"type": "array", "items": {"type": "object", "required": ["code", "types"], "properties": {
                    "code": {"type": "string"}, "name": {"type": ["string", "null"]}, "types": {"type": "array", "items": {"type": "string"}},
                }}},
            }},
            "Outcode": {"type": "object", "required": ["outcode", "count", "editions", "quantiles", "postcodes", "places", "areas", "reasons"], "properties": {
                "outcode": {"type": "string"},
                "count": {"type": "integer", "description": "Postcodes in this file."},
                "caveats": {"type": "array", "items": {"type": "string"}},
                "editions": {"type": "object", "description": "Each index edition, by the key `areas` uses for it.", "additionalProperties": {"$ref": "#/components/schemas/OutcodeEdition"}},
                "quantiles": {"type": "array", "items": {"type": "integer"}, "description": "The quantiles each area lists, in order (those the original platform accepts)."},
                "postcodes": {"type": "object", "description": "Normalised postcode (upper case, one space before the inward code) -> its status and place. A postcode absent here is not in the release's postcode directory.", "additionalProperties": {"$ref": "#/components/schemas/Postcode"}},
                "places": {"type": "array", "items": {"$ref": "#/components/schemas/Place"}},
                "areas": {"type": "object", "description": "Small-area code -> its deprivation in each edition that ranks it (by the edition's key in `editions`), and `href`, its own file.", "additionalProperties": {"type": "object", "properties": {"href": {"type": "string", "description": "The small area's own file, relative to this outcode file's URL (../areas/<code>.json), so that it resolves wherever the release is served."}}, "additionalProperties": {"$ref": "#/components/schemas/AreaRank"}}},
                "reasons": {"type": "array", "items": {"type": "string"}, "description": "Reasons, referred to by position from places."},
            }},
            "Postcode": {"type": "object", "required": ["status", "place"], "properties": {
                "status": {"type": "string", "enum": ["live", "terminated", "unknown"], "description": "unknown when the look-up does not record terminations."},
                "terminated": {"type": "string", "description": "YYYYMM, for a terminated postcode."},
                "place": {"type": "integer", "description": "Position in `places`."},
            }},
            "Place": {"type": "object", "required": ["country", "lad", "ward", "small_areas"], "properties": {
                "country": {"type": ["string", "null"]},
                "lad": {"type": ["string", "null"]},
                "ward": {"type": ["string", "null"]},
                "small_areas": {"type": "object", "description": "Geography (lsoa11, lsoa21, dz11, soa01, dz21) -> code.", "additionalProperties": {"type": "string"}},
                "missing": {"type": "object", "description": "Geography -> position in `reasons` of why it is not known.", "additionalProperties": {"type": "integer"}},
                "reason": {"type": "integer", "description": "Position in `reasons` of why no UK index covers these postcodes."},
            }},
            "OutcodeEdition": {"type": "object", "required": ["nation", "country", "year", "index", "small_area"], "properties": {
                "nation": {"type": "string"},
                "country": {"type": "string", "description": "The nation's GSS code: the edition applies to a place whose `country` is this."},
                "year": {"type": "integer", "description": "The original platform's `year`."},
                "index": {"type": "string", "description": "The index table, and the section of `deprivation` in the small area's own file."},
                "small_area": {"type": "string", "description": "The key of place.small_areas it is looked up by."},
                "n": {"type": "integer", "description": "Its number of small areas."},
                "decile_computed": {"type": "string", "description": "Present when this release has no published deciles for the edition (WIMD 2025, NIMDM 2017 in the shared catalog): how `decile` was computed from the rank instead; such a decile may differ at band edges from the publisher's own."},
                "unavailable": {"type": "string", "description": "Why the edition has no answers in this release, when it has none."},
            }},
            "AreaRank": {"type": "object", "required": ["rank", "n", "quintile", "quantiles"], "properties": {
                "rank": {"type": "number", "description": "1 = most deprived of the nation's small areas in this edition (a float where the publisher gives tied areas their mean rank)."},
                "n": {"type": "integer"},
                "decile": {"type": ["integer", "null"], "description": "The publisher's decile, or computed from the rank where the edition's `decile_computed` says so; 1 = most deprived 10%."},
                "quintile": {"type": "integer", "description": "The publisher's quintile where it publishes band edges (Wales 2019), else ceil(rank x 5 / n); 1 = most deprived."},
                "quantiles": {"type": "array", "items": {"type": "integer"}, "description": "ceil(rank x q / n) for each q of the file's `quantiles`, in order; 1 = most deprived."},
            }},
            "PostcodeIndex": {"type": "object", "required": ["table", "postcodes", "small_areas", "editions", "n", "quantiles", "outcodes"], "properties": {
                "table": {"type": "string", "description": "The release's postcode table (tables/<table>.parquet)."},
                "postcodes": {"type": "integer"},
                "small_areas": {"type": "object", "description": "Small-area column -> the column saying why it is null (empty: none).", "additionalProperties": {"type": "string"}},
                "editions": {"type": "array", "items": {"type": "object", "required": ["key", "nation", "country", "year", "small_area", "index"]}},
                "n": {"type": "object", "description": "Edition key -> its number of small areas.", "additionalProperties": {"type": "integer"}},
                "quantiles": {"type": "array", "items": {"type": "integer"}},
                "outcodes": {"type": "array", "items": {"type": "object", "required": ["outcode", "postcodes"], "properties": {"outcode": {"type": "string"}, "postcodes": {"type": "integer"}}}},
            }},
        },
    })
}
