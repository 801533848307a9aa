//! The worker's messages, applied to the page's state: each stamped with its run, so what a
//! replaced run still sends is dropped — but its last checkpoint, saved when it was replaced, is
//! still stored.

use lmlab::train::archive;
use lmlab::train::protocol::{Files, FromWorker, Stamped};

use super::super::store::{self, SavedMeta};
use super::{update, EngineState, Latest, Phase, RunMeta, Sample, SESSION};

pub(super) fn on_message(stamped: Stamped) {
    let Stamped { run, message: msg } = stamped;
    // What a replaced run still sends (its last step, its stop) is not the current run's.
    let current = SESSION.with(|s| s.borrow().state.run);
    // A replaced run's checkpoint (saved when it stopped for the new one) is still stored.
    let of_a_run = !matches!(
        msg,
        FromWorker::Ready { .. }
            | FromWorker::Bench { .. }
            | FromWorker::Checkpoint { .. }
            | FromWorker::AttentionRow(_)
            | FromWorker::AttentionSkipped(_)
            | FromWorker::AttentionDone { .. }
            | FromWorker::SweepProgress { .. }
            | FromWorker::SweepDone(_)
            | FromWorker::SweepStopped { .. }
    );
    let fatal = matches!(msg, FromWorker::Failed { fatal: true, .. });
    if of_a_run && !fatal && run != current {
        return;
    }
    match msg {
        FromWorker::Ready { webgpu, optimized } => {
            // The page's own verdict wins: a browser that hides WebGPU from pages (a policy, an
            // extension, a test) may still leave it visible to workers.
            let webgpu = if crate::webgpu::has_webgpu() { webgpu } else { Err(crate::webgpu::MISSING.to_string()) };
            update(|s| {
                s.engine = EngineState::Ready(webgpu);
                s.optimized = Some(optimized);
            })
        }
        FromWorker::Status { message, fraction } => update(|s| s.status = Some((message, fraction))),
        FromWorker::Started(info) => update(|s| {
            s.phase = Phase::Training;
            s.status = None;
            s.meta.steps = info.steps;
            s.meta.backend = info.backend.label().to_string();
            s.info = Some(*info);
        }),
        FromWorker::Loaded(info) => update(|s| {
            s.phase = Phase::Loaded;
            s.status = None;
            s.info = Some(*info);
        }),
        FromWorker::Step(r) => update(|s| {
            s.steps.push(r);
            s.record_rate();
        }),
        FromWorker::Eval { step, val_loss } => update(|s| s.evals.push((step, val_loss))),
        FromWorker::Sample { step, prompt, text, next, route_tokens, routes } => update(|s| {
            s.samples.insert(0, Sample { step, prompt, text, next, route_tokens, routes });
            s.samples.truncate(12);
        }),
        FromWorker::Checkpoint { step, files } => keep_checkpoint(run, step, files),
        FromWorker::Bench { request, device, report } => update(|s| {
            s.benchmarking = false;
            s.status = None;
            s.bench = Some((request, device, report));
        }),
        FromWorker::AttentionRow(row) => update(|s| s.attention.rows.push(row)),
        FromWorker::AttentionSkipped(row) => update(|s| s.attention.skipped.push(row)),
        FromWorker::AttentionDone { device, peak_measured } => update(|s| {
            s.attention.running = false;
            s.attention.done = Some((device, peak_measured));
            s.status = None;
        }),
        FromWorker::SweepProgress { id, step, loss } => super::sweep::on_progress(id, step, loss),
        FromWorker::SweepDone(record) => super::sweep::on_done(*record),
        FromWorker::SweepStopped { .. } => super::sweep::on_stopped(),
        FromWorker::Paused { .. } => update(|s| s.phase = Phase::Paused),
        FromWorker::Continued => update(|s| s.phase = Phase::Training),
        FromWorker::Finished { .. } => update(|s| s.phase = Phase::Finished),
        FromWorker::Stopped { .. } => update(|s| {
            s.phase = Phase::Stopped;
            s.stopping = None;
        }),
        FromWorker::Failed { during, message, fatal } => {
            if fatal {
                // The worker is dead (a panic traps the wasm instance): drop it; the next action
                // spawns a fresh one. The stored checkpoint is untouched.
                SESSION.with(|s| s.borrow_mut().bridge = None);
            }
            update(|s| {
                s.error = Some(format!("{during}: {message}"));
                s.status = None;
                s.benchmarking = false;
                if s.sweep.running || s.sweep.current.is_some() {
                    s.sweep.running = false;
                    s.sweep.current = None;
                    s.sweep.error = Some(format!("{during}: {message}"));
                }
                if s.attention.running {
                    s.attention.running = false;
                    s.attention.error = Some(format!("{during}: {message}"));
                }
                if fatal {
                    s.engine = EngineState::NotLoaded;
                }
                if fatal || s.phase == Phase::Preparing {
                    s.phase = Phase::Failed;
                }
            });
        }
    }
}

/// Offers a checkpoint of run `run` for download and stores it in IndexedDB.
fn keep_checkpoint(run: u64, step: usize, mut files: Files) {
    let meta = SESSION.with(|s| {
        let s = s.borrow();
        let found =
            [Some(&s.state.meta), s.state.replaced.as_ref()].into_iter().flatten().find(|m| m.run == run).cloned();
        found
    });
    let Some(RunMeta { corpus, bundled, preset, steps, backend, .. }) = meta else { return };
    // The student's own text, when small, travels in the .tar: `lmlab train --resume` needs nothing else.
    if let (false, Some(c)) = (bundled, corpus.as_deref()) {
        archive::embed_corpus(&mut files, c);
    }
    let tar = archive::pack(&files);
    let file_name = format!("lmlab-{}-step{step}.tar", if preset.is_empty() { "run" } else { &preset });
    let url = blob_url(&tar).unwrap_or_default();
    update(|s| {
        if let Some(old) = s.latest.take() {
            let _ = web_sys::Url::revoke_object_url(&old.url);
        }
        s.latest = Some(Latest { step, file_name, url, bytes: tar.len() });
    });
    let meta = SavedMeta {
        step,
        steps,
        data: corpus.as_ref().map_or_else(String::new, |c| c.name.clone()),
        bundled,
        preset,
        backend,
        bytes: tar.len(),
        saved_at: String::from(js_sys::Date::new_0().to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED)),
    };
    wasm_bindgen_futures::spawn_local(async move {
        let own = if bundled { None } else { corpus.as_deref() };
        match store::save(&tar, &meta, own).await {
            Ok(()) => update(|s| {
                s.saved = Some(meta);
                s.save_error = None;
            }),
            Err(e) => update(|s| s.save_error = Some(e)),
        }
    });
}

/// A `blob:` URL for bytes (the download link's target).
pub fn blob_url(bytes: &[u8]) -> Option<String> {
    let array = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes).into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/x-tar");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&array, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}
