// The look-up page: reads the release's static API relative to itself.
// Nothing typed here leaves the browser except as a request for a static
// file (an outcode's file, an area's file, the index of area names).
// Every value is put into the page as text (textContent), never as HTML.
"use strict";

const API = "__API_BASE__";
const POSTCODE = /^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$/;
const PARTIAL_POSTCODE = /^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]?$/;
// Pseudo-codes of the directories (L99999999: none applies) are not areas.
const PSEUDO = /^[A-Z]99999999$/;
const AREA_CODE = /^([A-Z][0-9]{8}|95[A-Z]{2}[0-9]{2}[A-Z0-9]*)$/;
const COUNTRIES = {
  E92000001: "England", W92000004: "Wales", S92000003: "Scotland", N92000002: "Northern Ireland",
  L93000001: "Channel Islands", M83000003: "Isle of Man",
};
const FIELDS_SHOWN_ELSEWHERE = new Set(["title", "table", "missing", "directions"]);

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text). */
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, String(v));
    else e[k] = v;
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.append(typeof k === "string" || typeof k === "number" ? String(k) : k);
  }
  return e;
}

/**
 * An API file. They are stored gzip-encoded: the bucket sends them with
 * `Content-Encoding: gzip` and the browser decodes them; a plain static
 * server (the release folder served as it is) sends the gzip bytes, which
 * are decoded here.
 */
async function getJSON(path) {
  const r = await fetch(`${API}/${path}`);
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  const bytes = new Uint8Array(await r.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return JSON.parse(new TextDecoder().decode(bytes));
  const plain = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(plain).text());
}

const cache = {};
function once(key, f) {
  if (!cache[key]) cache[key] = f();
  return cache[key];
}

/**
 * An area's file, with the text it shares with every other area file put
 * back from the dictionary beside it (fetched once): each section's title,
 * the reasons for its null fields and its directions, and the caveats'
 * words. Without the dictionary the look-up fails and says so: a section
 * without its directions or reasons would be read wrongly.
 */
async function getArea(code) {
  const a = await getJSON(`areas/${code}.json`);
  if (!a) return null;
  const dict = await dictionary();
  const missingText = (what) => {
    throw new Error(`the API's dictionary.json has no ${what} (is the release complete?)`);
  };
  for (const [group, sections] of Object.entries(a)) {
    if (["names", "parents"].includes(group) || !sections || typeof sections !== "object" || Array.isArray(sections)) continue;
    for (const [key, d] of Object.entries(sections)) {
      const shared = dict.sections[`${group}.${key}`] || missingText(`section ${group}.${key}`);
      Object.assign(d, { title: shared.title, missing: shared.missing, directions: shared.directions });
    }
  }
  a.caveats = (a.caveats || []).map((i) => (i in dict.caveats ? dict.caveats[i] : missingText(`caveat ${i}`)));
  // A section whose whole table is not in the release: the reason is said once.
  for (const u of a.unavailable || []) {
    if (u && !u.reason) u.reason = (dict.sections[u.section] || missingText(`section ${u.section}`)).unavailable || missingText(`reason for ${u.section}`);
  }
  return a;
}

/** The API's dictionary; a failed fetch is tried again at the next look-up. */
async function dictionary() {
  const dict = await once("dictionary", () => getJSON("dictionary.json")).catch((e) => {
    delete cache.dictionary;
    throw new Error(`the API's dictionary.json, which every area file refers to: ${e.message}`);
  });
  if (dict && dict.sections && Array.isArray(dict.caveats)) return dict;
  delete cache.dictionary;
  throw new Error(`the API's dictionary.json, which every area file refers to, is ${dict ? "not a dictionary" : "missing from this release"}`);
}

/** index table -> {key, nation, year, n}, from the postcode index. */
const editions = () =>
  once("editions", async () => {
    const ix = await getJSON("postcodes/index.json");
    const out = {};
    for (const e of (ix && ix.editions) || []) {
      out[e.index] = { ...e, n: ix.n ? ix.n[e.key] : undefined };
    }
    return out;
  });

function status(text, state) {
  $("status").textContent = text;
  document.body.dataset.state = state;
  // Whether the page fits its window's width (no sideways scrolling on a
  // phone), for the page's tests.
  document.body.dataset.fits = String(document.documentElement.scrollWidth <= window.innerWidth);
}

const fmt = (v) => {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en-GB") : v.toLocaleString("en-GB", { maximumFractionDigits: 3 });
  return String(v);
};
const link = (code, text) => el("a", { href: `#q=${encodeURIComponent(code)}` }, text || code);

/** The postcode typed, normalised, or null. */
function postcodeOf(q) {
  const m = POSTCODE.exec(q.toUpperCase().replace(/\s+/g, ""));
  return m ? { outcode: m[1], postcode: `${m[1]} ${m[2]}` } : null;
}

async function lookup(q) {
  const result = $("result");
  result.replaceChildren();
  q = q.trim();
  if (!q) return status("Type a postcode, an area code or an area name.", "idle");
  status(`Looking up ${q}…`, "busy");
  try {
    const pc = postcodeOf(q);
    const code = q.toUpperCase();
    if (!pc && PARTIAL_POSTCODE.test(code.replace(/\s+/g, ""))) {
      status(`${q} looks like an incomplete postcode: type the whole postcode, for example DT1 1AA.`, "notfound");
      return;
    }
    if (pc) await showPostcode(pc, result);
    else if (AREA_CODE.test(code)) await showAreaCode(code, result);
    else await searchName(q, result);
  } catch (e) {
    status(`The look-up failed: ${e.message}`, "error");
    return;
  }
  if (document.body.dataset.state === "busy") status(`Showing ${q}.`, "done");
  // Screen readers move to the result; the page does not jump.
  result.focus({ preventScroll: true });
}

// ---------------------------------------------------------------- postcodes

async function showPostcode({ outcode, postcode }, result) {
  const file = await getJSON(`postcodes/${outcode}.json`);
  const p = file && file.postcodes[postcode];
  if (!p) {
    // Say which postcode areas the release covers: a test catalog holds
    // only some of them.
    const ix = await once("pcindex", () => getJSON("postcodes/index.json"));
    const areas = [...new Set(((ix && ix.outcodes) || []).map((o) => o.outcode.replace(/[0-9].*$/, "")))].sort();
    const covered = areas.includes(outcode.replace(/[0-9].*$/, ""));
    status(covered
      ? `${postcode} is not in this release's postcode look-up: not a postcode, or not yet or no longer in the directory.`
      : `${postcode} is not in this release's postcode look-up, which covers the postcode areas ${areas.join(", ")}.`, "notfound");
    return;
  }
  const place = file.places[p.place];
  const sec = el("section", { "data-postcode": postcode }, el("h2", {}, `Postcode ${postcode}`));
  sec.append(el("dl", {},
    el("dt", {}, "Status"), el("dd", {}, p.status === "terminated" ? `terminated ${p.terminated.slice(0, 4)}-${p.terminated.slice(4)} (its last small area is shown)` : p.status),
    el("dt", {}, "Country"), el("dd", {}, place.country ? `${COUNTRIES[place.country] || ""} (${place.country})` : "—"),
    el("dt", {}, "Local authority (directory)"), el("dd", {}, place.lad && !PSEUDO.test(place.lad) ? link(place.lad) : "—"),
    el("dt", {}, "Ward (directory)"), el("dd", {}, place.ward && !PSEUDO.test(place.ward) ? link(place.ward) : "—"),
    ...Object.entries(place.small_areas).flatMap(([k, code]) => [el("dt", {}, smallAreaLabel(k)), el("dd", {}, link(code))]),
  ));
  if (place.reason !== undefined) {
    sec.append(el("p", { class: "reason", "data-reason": "postcode" }, `No deprivation index: ${file.reasons[place.reason]}`));
  }
  for (const [k, i] of Object.entries(place.missing || {})) {
    sec.append(el("p", { class: "reason" }, `No ${smallAreaLabel(k)}: ${file.reasons[i]}`));
  }
  sec.append(postcodeRanks(file, place));
  result.append(sec);
  // Each small area's own file: domains, change, Census; then the
  // local authority's summaries.
  const codes = [...new Set(Object.values(place.small_areas))];
  // The local authorities: the directory's, then those its small areas'
  // files name (a district abolished since the directory's date, such as
  // Harrogate in 2023, has its 2024 successor there).
  const las = [place.lad].filter((c) => c && !PSEUDO.test(c));
  for (const code of codes) {
    const a = await getArea(code);
    if (!a) continue;
    result.append(await areaSection(a, 3));
    for (const [k, p] of Object.entries(a.parents || {})) {
      if (/^(lad|council_area|lgd)/.test(k) && !las.includes(p.code)) las.push(p.code);
    }
  }
  const shown = new Set();
  for (const code of las) {
    const la = await getArea(code);
    if (!la || shown.has(la.code)) continue;
    shown.add(la.code);
    // Only authorities with something to show beyond their names.
    if (["summaries", "census", "places_scores", "green_space"].some((g) => Object.keys(la[g] || {}).length)) {
      result.append(await areaSection(la, 3));
    }
  }
  await appendMaps(result, codes, las);
}

function smallAreaLabel(k) {
  return { lsoa11: "LSOA 2011", lsoa21: "LSOA 2021", dz11: "Data Zone 2011", soa01: "Super Output Area 2001", dz21: "Data Zone 2021" }[k] || k;
}

/** The deprivation of the postcode's small areas, one row per edition. */
function postcodeRanks(file, place) {
  const rows = [];
  for (const code of new Set(Object.values(place.small_areas))) {
    for (const [key, d] of Object.entries(file.areas[code] || {})) {
      if (key === "href") continue;
      const e = file.editions[key] || {};
      rows.push(el("tr", { "data-edition": key, "data-code": code, "data-rank": d.rank, "data-decile": d.decile },
        el("td", {}, `${e.nation} ${e.year}`), el("td", {}, code),
        el("td", { class: "num" }, `${fmt(d.rank)} of ${fmt(d.n)}`),
        el("td", { class: "num" }, fmt(d.decile), e.decile_computed ? el("span", { class: "muted", title: e.decile_computed }, " (computed from the rank)") : null),
        el("td", { class: "num" }, fmt(d.quintile))));
    }
  }
  if (!rows.length) {
    return el("p", { class: "reason", "data-reason": "unranked" }, "No index ranks this postcode's small area in this release.");
  }
  return el("div", { class: "table", tabIndex: 0, role: "region", ariaLabel: "Deprivation by edition" }, el("table", {},
    el("caption", { class: "muted" }, "Index of Multiple Deprivation of the postcode's small area (rank 1 and decile 1 = most deprived)"),
    el("thead", {}, el("tr", {}, ["Index", "Small area", "Rank", "Decile", "Quintile"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows)));
}

// ---------------------------------------------------------------- areas

async function showAreaCode(code, result) {
  const a = await getArea(code);
  if (!a) {
    status(`No area with code ${code} is in this release.`, "notfound");
    return;
  }
  result.append(await areaSection(a, 2));
  await appendMaps(result, [a.code], [a.code, ...Object.values(a.parents || {}).map((p) => p.code)]);
}

async function searchName(q, result) {
  const index = await once("areas", () => getJSON("areas/index.json"));
  const want = q.toLowerCase();
  const all = (index ? index.areas : []).filter((a) => a.name && a.name.toLowerCase().includes(want));
  const exact = all.filter((a) => a.name.toLowerCase() === want);
  // A local authority before the small areas and wards that share its name.
  const rank = (a) => (a.types.some((t) => /^lad|^utla|^council/.test(t)) ? 0 : 1);
  exact.sort((x, y) => rank(x) - rank(y));
  if (exact.length && (exact.length === 1 || rank(exact[0]) < rank(exact[1]))) {
    const a = await getArea(exact[0].code);
    result.append(await areaSection(a, 2));
    await appendMaps(result, [a.code], [a.code, ...Object.values(a.parents || {}).map((p) => p.code)]);
    return;
  }
  if (!all.length) {
    status(`No area is named like "${q}" in this release.`, "notfound");
    return;
  }
  const shown = all.slice(0, 30);
  result.append(el("section", {}, el("h2", {}, `Areas named like "${q}"`),
    el("ul", { class: "matches" }, shown.map((a) => el("li", {}, link(a.code, `${a.name} (${a.code})`), ` ${a.types.join(", ")}`))),
    all.length > shown.length ? el("p", { class: "muted" }, `${all.length - shown.length} more; type more of the name.`) : null));
  status(`${all.length} areas are named like "${q}".`, "done");
}

/** Everything an area file says, under a heading of the given level. */
async function areaSection(a, level) {
  const eds = await editions();
  const sec = el("section", { "data-area": a.code }, el(`h${level}`, {}, `${a.name || a.code} (${a.code})`));
  sec.append(el("p", { class: "muted" }, a.types.join(", ")));
  const parents = Object.entries(a.parents || {});
  if (parents.length) {
    sec.append(el("dl", {}, parents.flatMap(([k, p]) => [el("dt", {}, k), el("dd", {}, link(p.code, `${p.name || p.code} (${p.code})`))])));
  }
  for (const [key, d] of Object.entries(a.deprivation || {})) {
    // An index re-expressed on other codes has no rank of its own.
    sec.append(d.imd_rank === undefined ? generic("deprivation", key, d, level + 1) : deprivation(key, d, eds, level + 1));
  }
  for (const group of ["change", "summaries", "census", "green_space", "places_scores", "boundary_change", "ward_assignment"]) {
    for (const [key, d] of Object.entries(a[group] || {})) sec.append(generic(group, key, d, level + 1));
  }
  const gone = a.unavailable || [];
  if (gone.length) {
    sec.append(el(`h${level + 1}`, {}, "Not available for this area"),
      el("ul", {}, gone.map((u) => el("li", { class: "reason" }, typeof u === "string" ? u : `${u.section || u.title || ""}: ${u.reason || JSON.stringify(u)}`))));
  }
  if ((a.caveats || []).length) {
    sec.append(el("details", {}, el("summary", {}, "Caveats"), el("ul", {}, a.caveats.map((c) => el("li", {}, c)))));
  }
  return sec;
}

/** One index's rank of N, decile and domains for an area. */
function deprivation(key, d, eds, level) {
  const e = eds[d.table] || {};
  const n = e.n;
  const sec = el("section", { "data-section": key, "data-rank": d.imd_rank, "data-decile": d.imd_decile },
    el(`h${level}`, {}, d.title || key),
    el("p", {}, el("strong", {}, `Rank ${fmt(d.imd_rank)}${n ? ` of ${fmt(n)}` : ""}`), ` · decile ${fmt(d.imd_decile)}`,
      d.imd_quantile_5 !== undefined ? ` · quintile ${fmt(d.imd_quantile_5)}` : "",
      e.nation ? ` (within ${e.nation}, ${e.year}; 1 = most deprived)` : " (1 = most deprived)"));
  const domains = Object.keys(d).filter((k) => k.endsWith("_rank") && k !== "imd_rank").map((k) => k.slice(0, -5));
  if (domains.length) {
    const rows = domains.map((dom) => el("tr", {}, el("th", { scope: "row" }, dom.replace(/_/g, " ")),
      el("td", { class: "num" }, fmt(d[`${dom}_rank`])), el("td", { class: "num" }, fmt(d[`${dom}_decile`])),
      el("td", { class: "num" }, fmt(d[`${dom}_score`])), el("td", { class: "muted" }, (d.missing || {})[`${dom}_score`] || "")));
    sec.append(el("details", {}, el("summary", {}, "Domains"), el("div", { class: "table" }, el("table", {},
      el("thead", {}, el("tr", {}, ["Domain", "Rank", "Decile", "Score", "Note"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)))));
  }
  return sec;
}

/** What a change section's `direction` means: "declined" is the area's
 * relative position, not its deprivation, declining. */
const CHANGE_MEANS = {
  improved: "moved towards the less deprived end, relative to other areas",
  declined: "moved towards the more deprived end, relative to other areas",
  "broadly stable": "relative position about the same",
};

/** Any other section: its values in a table, with directions and reasons. */
function generic(group, key, d, level) {
  const values = d.values && typeof d.values === "object" ? d.values : d;
  const dirs = d.directions || {};
  const missing = d.missing || {};
  const rows = Object.entries(values).filter(([k, v]) => !FIELDS_SHOWN_ELSEWHERE.has(k) && (v === null || typeof v !== "object" || v.value !== undefined))
    .map(([k, v]) => {
      const value = v && typeof v === "object" ? (v.unit === "proportion" && typeof v.value === "number" ? `${(v.value * 100).toFixed(1)}%` : fmt(v.value)) : fmt(v);
      const note = v && typeof v === "object"
        ? [v.status && v.status !== "ok" ? `${v.status}${v.reason ? `: ${v.reason}` : ""}` : v.unit || "", group === "census" ? dirs[k] || "no direction given: it describes the area" : dirs[k]].filter(Boolean).join("; ")
        : (missing[k] || dirs[k] || (k === "direction" ? CHANGE_MEANS[v] : "") || "");
      return el("tr", {}, el("th", { scope: "row" }, k.replace(/_/g, " ")), el("td", { class: "num" }, value), el("td", { class: "muted" }, note));
    });
  const flag = d.comparable === false && d.not_comparable_reason ? el("p", { class: "reason" }, `Not comparable: ${d.not_comparable_reason}`) : null;
  // A section of rows (the boundary changes an area took part in): a table.
  if (Array.isArray(d.rows)) {
    const cols = [...new Set(d.rows.flatMap((r) => Object.keys(r)))];
    return el("section", { "data-section": `${group}.${key}` }, el(`h${level}`, {}, d.title || `${group} ${key}`),
      el("div", { class: "table", tabIndex: 0, role: "region", ariaLabel: d.title || key }, el("table", {},
        el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col" }, c.replace(/_/g, " "))))),
        el("tbody", {}, d.rows.map((r) => el("tr", {}, cols.map((c) => el("td", {}, fmt(r[c])))))))));
  }
  return el("section", { "data-section": `${group}.${key}` }, el(`h${level}`, {}, d.title || `${group} ${key}`), flag,
    el("details", { open: group === "change" }, el("summary", {}, `${rows.length} values`),
      el("div", { class: "table", tabIndex: 0, role: "region", ariaLabel: d.title || key }, el("table", {}, el("tbody", {}, rows)))));
}

// ---------------------------------------------------------------- maps

// Viridis in ten steps: ordered in lightness, readable with every common
// colour-vision deficiency and in greyscale. Decile 1 (most deprived) is
// the darkest.
const DECILE_COLOURS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
const SVG = "http://www.w3.org/2000/svg";

/** Maps of small-area deciles for the local authorities among `las`,
 * one per edition with boundaries; `highlight` small areas are outlined. */
async function appendMaps(result, highlight, las) {
  const maps = await once("maps", () => fetch("map/index.json").then((r) => (r.ok ? r.json() : null)));
  if (!maps) return;
  const caveat = el("p", { class: "caveat" }, "Decile 1 is the most deprived tenth of small areas in the nation and edition; each map compares only within its own nation and edition. Select an area to look it up.");
  const sec = el("section", { "data-maps": "" }, el("h2", {}, "Maps of small-area deciles"), caveat);
  let drawn = 0;
  for (const m of maps.maps) {
    const index = await once(`map:${m.key}`, () => fetch(`map/${m.key}/index.json`).then((r) => r.json()));
    const la = las.filter(Boolean).map((c) => index.las[c]).find(Boolean);
    if (!la) continue;
    const geo = await fetch(`map/${m.key}/${la.file}`).then((r) => r.json());
    sec.append(el("h3", {}, `${m.title}: ${la.name || la.code}`), drawMap(m, geo, new Set(highlight)));
    drawn += 1;
  }
  for (const u of maps.unavailable || []) {
    sec.append(el("p", { class: "muted" }, `No map of ${u.title}: ${u.reason}`));
  }
  if (drawn) caveat.after(legend());
  result.append(sec);
}

function legend() {
  const items = DECILE_COLOURS.map((c, i) => el("li", {}, svgSwatch(c), ` ${i + 1}${i === 0 ? " (most deprived)" : i === 9 ? " (least deprived)" : ""}`));
  return el("figure", { class: "legend" }, el("figcaption", {}, "IMD decile"), el("ul", {}, items));
}

function svgSwatch(colour) {
  const s = document.createElementNS(SVG, "svg");
  s.setAttribute("width", "16"); s.setAttribute("height", "16"); s.setAttribute("aria-hidden", "true");
  const r = document.createElementNS(SVG, "rect");
  r.setAttribute("width", "16"); r.setAttribute("height", "16"); r.setAttribute("fill", colour);
  s.append(r);
  return s;
}

/** An SVG of the features, in a local equirectangular projection. */
function drawMap(m, geo, highlight) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const rings = (g) => (g.type === "Polygon" ? g.coordinates : g.coordinates.flat());
  for (const f of geo.features) for (const ring of rings(f.geometry)) for (const [x, y] of ring) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const w = 600, h = Math.max(200, Math.min(700, (w * (y1 - y0)) / Math.max((x1 - x0) * k, 1e-9)));
  const sx = w / Math.max((x1 - x0) * k, 1e-9), sy = h / Math.max(y1 - y0, 1e-9), s = Math.min(sx, sy);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${m.title}: ${geo.features.length} small areas coloured by IMD decile`);
  svg.dataset.map = m.key;
  for (const f of geo.features) {
    const d = rings(f.geometry).map((ring) => "M" + ring.map(([x, y]) => `${((x - x0) * k * s).toFixed(1)},${((y1 - y) * s).toFixed(1)}`).join("L") + "Z").join("");
    const p = document.createElementNS(SVG, "path");
    const decile = f.properties.decile;
    p.setAttribute("d", d);
    p.setAttribute("fill", decile ? DECILE_COLOURS[decile - 1] : "#ffffff");
    p.setAttribute("stroke", highlight.has(f.properties.code) ? "#ff0000" : "#ffffff");
    p.setAttribute("stroke-width", highlight.has(f.properties.code) ? "3" : "0.5");
    p.dataset.code = f.properties.code;
    const t = document.createElementNS(SVG, "title");
    t.textContent = `${f.properties.name || f.properties.code} (${f.properties.code}): decile ${decile || "none"}`;
    p.append(t);
    p.addEventListener("click", () => { location.hash = `q=${encodeURIComponent(f.properties.code)}`; });
    svg.append(p);
  }
  // The same areas as links, for keyboards and screen readers (the shapes
  // are not tab stops: a local authority has hundreds).
  const list = el("details", { class: "areas" }, el("summary", {}, `The ${geo.features.length} areas on this map, by decile`),
    el("ul", {}, [...geo.features].sort((a, b) => (a.properties.decile || 99) - (b.properties.decile || 99)).map((f) =>
      el("li", {}, link(f.properties.code, `${f.properties.name || f.properties.code} (${f.properties.code})`), `: decile ${f.properties.decile || "none"}`))));
  return el("div", { class: "map" }, svg, list);
}

// ---------------------------------------------------------------- wiring

function fromHash() {
  const m = /^#q=(.*)$/.exec(location.hash);
  if (!m) return;
  const q = decodeURIComponent(m[1].replace(/\+/g, " "));
  $("q").value = q;
  lookup(q);
}

$("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("q").value.trim();
  const hash = `#q=${encodeURIComponent(q)}`;
  if (location.hash === hash) lookup(q);
  else location.hash = hash;
});
window.addEventListener("hashchange", fromHash);
fromHash();
