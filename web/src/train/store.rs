//! The browser's checkpoint store (IndexedDB database `lmlab`, object store `train`): the newest
//! checkpoint of the Train page as one tar archive, what it is (`meta`, JSON), and the corpus it
//! was trained on when that is the student's own text (the bundled one is fetched again). It
//! survives reloads; a newer checkpoint replaces it only once fully written (one transaction).
//! The Scaling lab's sweep (its settings and finished runs) is kept in the same store under
//! `sweep`, so a sweep survives a reload as a checkpoint does.

use js_sys::{Promise, Uint8Array};
use lmlab::train::archive;
use lmlab::train::protocol::{Corpus, Files};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbOpenDbRequest, IdbRequest, IdbTransactionMode};

const DB: &str = "lmlab";
const STORE: &str = "train";

/// What the stored checkpoint is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedMeta {
    pub step: usize,
    pub steps: usize,
    /// The corpus's name; `bundled` when it is the lab's Shakespeare.
    pub data: String,
    pub bundled: bool,
    pub preset: String,
    pub backend: String,
    /// Size of the archive in bytes.
    pub bytes: usize,
    /// `Date.toLocaleString()` at saving.
    pub saved_at: String,
}

fn js_err(what: &str, e: JsValue) -> String {
    let detail = e
        .dyn_ref::<web_sys::DomException>()
        .map(|d| format!("{}: {}", d.name(), d.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    if detail.contains("QuotaExceeded") {
        format!("{what}: the browser's storage for this site is full ({detail}); download the checkpoint instead")
    } else {
        format!("{what}: {detail}")
    }
}

/// Waits for an IndexedDB request's `success` (its result) or `error`.
async fn done(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(promise).await?;
    request.result()
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = web_sys::window().and_then(|w| w.indexed_db().ok().flatten()).ok_or_else(|| {
        "this browser offers no IndexedDB (a private window?): checkpoints cannot be kept".to_string()
    })?;
    let request: IdbOpenDbRequest = factory.open_with_u32(DB, 1).map_err(|e| js_err("opening IndexedDB", e))?;
    let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let db: IdbDatabase = e.target().unwrap().unchecked_into::<IdbRequest>().result().unwrap().unchecked_into();
        if !db.object_store_names().contains(STORE) {
            let _ = db.create_object_store(STORE);
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = done(&request).await.map_err(|e| js_err("opening IndexedDB", e))?;
    drop(upgrade);
    Ok(db.unchecked_into())
}

/// Stores a checkpoint's archive (and the corpus when it is the student's own) in one transaction.
pub async fn save(tar: &[u8], meta: &SavedMeta, corpus: Option<&Corpus>) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
        .map_err(|e| js_err("saving the checkpoint", e))?;
    let store = tx.object_store(STORE).map_err(|e| js_err("saving the checkpoint", e))?;
    let bytes = Uint8Array::from(tar);
    let meta = SavedMeta { bytes: tar.len(), ..meta.clone() };
    let put = |key: &str, value: &JsValue| {
        store.put_with_key(value, &key.into()).map_err(|e| js_err("saving the checkpoint", e))
    };
    put("checkpoint", &bytes.into())?;
    put("meta", &serde_json::to_string(&meta).expect("plain data").into())?;
    match corpus {
        Some(c) => put("corpus", &serde_json::to_string(c).expect("plain data").into()).map(|_| ())?,
        None => store.delete(&"corpus".into()).map(|_| ()).map_err(|e| js_err("saving the checkpoint", e))?,
    };
    let complete = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    JsFuture::from(complete).await.map_err(|_| {
        js_err("saving the checkpoint", tx.error().map(JsValue::from).unwrap_or_else(|| "aborted".into()))
    })?;
    Ok(())
}

async fn get(db: &IdbDatabase, key: &str) -> Result<JsValue, String> {
    let tx = db.transaction_with_str(STORE).map_err(|e| js_err("reading the checkpoint", e))?;
    let store = tx.object_store(STORE).map_err(|e| js_err("reading the checkpoint", e))?;
    let request = store.get(&key.into()).map_err(|e| js_err("reading the checkpoint", e))?;
    done(&request).await.map_err(|e| js_err("reading the checkpoint", e))
}

/// What is stored, without reading the checkpoint itself.
pub async fn meta() -> Result<Option<SavedMeta>, String> {
    let db = open().await?;
    let v = get(&db, "meta").await?;
    Ok(v.as_string().and_then(|s| serde_json::from_str(&s).ok()))
}

/// The stored checkpoint's files, its meta and the corpus (None when nothing is stored).
pub async fn load() -> Result<Option<(SavedMeta, Files, Option<Corpus>)>, String> {
    let db = open().await?;
    let Some(meta) = get(&db, "meta").await?.as_string().and_then(|s| serde_json::from_str::<SavedMeta>(&s).ok())
    else {
        return Ok(None);
    };
    let v = get(&db, "checkpoint").await?;
    if v.is_undefined() {
        return Ok(None);
    }
    let tar = Uint8Array::new(&v).to_vec();
    let files = archive::unpack("the browser's saved checkpoint", &tar).map_err(|e| e.to_string())?;
    let corpus = get(&db, "corpus").await?.as_string().and_then(|s| serde_json::from_str(&s).ok());
    Ok(Some((meta, files, corpus)))
}

/// Forgets the stored run (the sweep stays).
pub async fn clear() -> Result<(), String> {
    delete(&["checkpoint", "meta", "corpus"], "clearing").await
}

async fn delete(keys: &[&str], what: &str) -> Result<(), String> {
    let db = open().await?;
    let tx = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(|e| js_err(what, e))?;
    let store = tx.object_store(STORE).map_err(|e| js_err(what, e))?;
    for key in keys {
        let request = store.delete(&(*key).into()).map_err(|e| js_err(what, e))?;
        done(&request).await.map_err(|e| js_err(what, e))?;
    }
    Ok(())
}

/// The Scaling lab's sweep as stored: what it is and the runs finished so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedSweep {
    pub settings: lmlab::scaling::SweepSettings,
    pub backend: lmlab::train::plan::Backend,
    pub records: Vec<lmlab::scaling::RunRecord>,
}

/// Stores the sweep (replacing the older state).
pub async fn save_sweep(sweep: &SavedSweep) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
        .map_err(|e| js_err("saving the sweep", e))?;
    let store = tx.object_store(STORE).map_err(|e| js_err("saving the sweep", e))?;
    let json = serde_json::to_string(sweep).expect("plain data");
    let request = store.put_with_key(&json.into(), &"sweep".into()).map_err(|e| js_err("saving the sweep", e))?;
    done(&request).await.map_err(|e| js_err("saving the sweep", e))?;
    Ok(())
}

/// The stored sweep, if any (one that no longer parses is ignored: it was a development build's).
pub async fn load_sweep() -> Result<Option<SavedSweep>, String> {
    let db = open().await?;
    Ok(get(&db, "sweep").await?.as_string().and_then(|s| serde_json::from_str(&s).ok()))
}

/// Forgets the sweep.
pub async fn clear_sweep() -> Result<(), String> {
    delete(&["sweep"], "forgetting the sweep").await
}
