//! `latest.json`: switched last, by a conditional update, never back to an
//! older version unless asked, and read back to check it.

use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::manifest::semver;
use super::store::{attributes, store_err};
use super::upload::get;
use crate::error::{Error, ErrorKind, Result};

/// `latest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Latest {
    pub version: String,
    pub path: String,
    pub manifest_sha256: String,
}

/// The current `latest.json`, with what a conditional update needs.
pub struct Current {
    meta: object_store::ObjectMeta,
    bytes: Vec<u8>,
    pub latest: Option<Latest>,
}

pub async fn current(store: &dyn ObjectStore, loc: &ObjPath) -> Result<Option<Current>> {
    match store.get(loc).await {
        Ok(g) => {
            let meta = g.meta.clone();
            let bytes = g.bytes().await.map_err(|e| store_err("latest.json", e))?;
            Ok(Some(Current {
                meta,
                latest: serde_json::from_slice(&bytes).ok(),
                bytes: bytes.to_vec(),
            }))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(store_err("latest.json", e)),
    }
}

/// Refuses to move `latest.json` from a newer version to `version`.
pub fn check_not_older(
    current: Option<&Current>,
    version: &str,
    allow_downgrade: bool,
) -> Result<()> {
    let Some(now) = current.and_then(|c| c.latest.as_ref()) else {
        return Ok(());
    };
    if allow_downgrade || semver(&now.version) <= semver(version) {
        return Ok(());
    }
    Err(Error::new(ErrorKind::Usage {
        reason: format!(
            "latest.json points at version {}, newer than this release's {version}: publishing it would move latest.json back. \
             Pass --allow-downgrade to do that on purpose",
            now.version
        ),
    }))
}

/// Points `latest.json` at `latest`, unless it already does; then reads it
/// back. Returns true if it was switched.
pub async fn switch(
    store: &dyn ObjectStore,
    loc: &ObjPath,
    current: Option<Current>,
    latest: &Latest,
) -> Result<bool> {
    let body = serde_json::to_vec_pretty(latest).map_err(Error::table)?;
    if current.as_ref().is_some_and(|c| c.bytes == body) {
        return Ok(false);
    }
    let mode = match &current {
        None => PutMode::Create,
        Some(c) => PutMode::Update(UpdateVersion {
            e_tag: c.meta.e_tag.clone(),
            version: c.meta.version.clone(),
        }),
    };
    let opts = PutOptions {
        mode,
        attributes: attributes("latest.json", &body, false),
        ..Default::default()
    };
    match store
        .put_opts(loc, PutPayload::from(body.clone()), opts)
        .await
    {
        Ok(_) => {}
        Err(object_store::Error::NotImplemented { .. })
        | Err(object_store::Error::NotSupported { .. }) => {
            replace_after_recheck(store, loc, current.as_ref(), body.clone()).await?
        }
        Err(object_store::Error::Precondition { .. })
        | Err(object_store::Error::AlreadyExists { .. }) => {
            return Err(Error::new(ErrorKind::LatestMoved {
                reason:
                    "latest.json was changed by another publish meanwhile; run this publish again"
                        .into(),
            }))
        }
        Err(e) => return Err(store_err("latest.json", e)),
    }
    verify(store, loc, &body).await?;
    Ok(true)
}

/// Stores without conditional writes (a local folder): compare, then
/// replace atomically.
async fn replace_after_recheck(
    store: &dyn ObjectStore,
    loc: &ObjPath,
    current: Option<&Current>,
    body: Vec<u8>,
) -> Result<()> {
    warn!("The store has no conditional update; replacing latest.json after re-checking it.");
    let again = store.get(loc).await.ok();
    let unchanged = match (current, again) {
        (None, None) => true,
        (Some(c), Some(g)) => {
            g.meta.e_tag == c.meta.e_tag && g.meta.last_modified == c.meta.last_modified
        }
        _ => false,
    };
    if !unchanged {
        return Err(Error::new(ErrorKind::LatestMoved {
            reason: "latest.json changed during the publish; run it again".into(),
        }));
    }
    store
        .put(loc, PutPayload::from(body))
        .await
        .map(|_| ())
        .map_err(|e| store_err("latest.json", e))
}

/// Reads `latest.json` back: it must hold exactly what was written.
async fn verify(store: &dyn ObjectStore, loc: &ObjPath, body: &[u8]) -> Result<()> {
    match get(store, loc, "latest.json").await? {
        Some(b) if b == body => Ok(()),
        _ => Err(Error::new(ErrorKind::LatestMoved {
            reason: "latest.json does not hold what was written (changed meanwhile, or the bucket is damaged); run the publish again".into(),
        })),
    }
}
