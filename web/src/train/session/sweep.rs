//! The Scaling lab's sweep, driven from the page: the plan (`lmlab::scaling`) is made here, its
//! runs go to the training worker one after another (`ToWorker::SweepRun`), each finished run's
//! record is kept in IndexedDB at once — so a reload loses at most the run in progress, which
//! starts again from its beginning when the sweep continues (a sweep's runs are seconds to
//! minutes long).

use std::cell::RefCell;
use std::rc::Rc;

use lmlab::scaling::{RunRecord, SweepPlan, SweepSettings};
use lmlab::train::plan::Backend;
use lmlab::train::protocol::{Corpus, SweepRunRequest, ToWorker};

use super::super::store::{self, SavedSweep};
use super::{send, update, SESSION};
use crate::assets;

/// The sweep as the Scaling page shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SweepState {
    /// The stored sweep was looked for (on the page's first visit).
    pub restored: bool,
    pub plan: Option<SweepPlan>,
    pub backend: Option<Backend>,
    /// Finished runs (diverged ones included), in the order they finished.
    pub records: Vec<RunRecord>,
    /// Runs go to the worker one after another until all are done or Stop.
    pub running: bool,
    /// The run in the worker: its id, steps done, newest training loss.
    pub current: Option<(String, usize, f64)>,
    pub error: Option<String>,
}

impl SweepState {
    /// The first planned run without a record.
    pub fn next(&self) -> Option<&lmlab::scaling::sweep::PlannedRun> {
        let plan = self.plan.as_ref()?;
        plan.runs.iter().find(|r| !self.records.iter().any(|d| d.id == r.id))
    }
}

thread_local! {
    /// The bundled corpus once fetched (every run of the sweep trains on it).
    static TEXT: RefCell<Option<Rc<Corpus>>> = const { RefCell::new(None) };
}

fn sweep() -> SweepState {
    SESSION.with(|s| s.borrow().state.sweep.clone())
}

/// Reads the stored sweep, once per page load.
pub fn restore_sweep() {
    if sweep().restored {
        return;
    }
    update(|s| s.sweep.restored = true);
    wasm_bindgen_futures::spawn_local(async {
        match store::load_sweep().await {
            Ok(Some(saved)) => match SweepPlan::new(saved.settings) {
                Ok(plan) => update(|s| {
                    if s.sweep.plan.is_none() {
                        s.sweep.plan = Some(plan);
                        s.sweep.backend = Some(saved.backend);
                        s.sweep.records = saved.records;
                    }
                }),
                Err(e) => update(|s| s.sweep.error = Some(format!("the stored sweep cannot be planned again: {e}"))),
            },
            Ok(None) => {}
            Err(e) => update(|s| s.sweep.error = Some(e)),
        }
    });
}

fn persist() {
    let s = sweep();
    let (Some(plan), Some(backend)) = (s.plan, s.backend) else { return };
    let saved = SavedSweep { settings: plan.settings, backend, records: s.records };
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = store::save_sweep(&saved).await {
            update(|s| s.sweep.error = Some(e));
        }
    });
}

/// Starts a new sweep (the stored one is replaced).
pub fn start_sweep(settings: SweepSettings, backend: Backend) -> Result<(), String> {
    let plan = SweepPlan::new(settings)?;
    update(|s| {
        s.sweep = SweepState {
            restored: true,
            plan: Some(plan),
            backend: Some(backend),
            running: true,
            ..Default::default()
        };
    });
    persist();
    next_run();
    Ok(())
}

/// Continues the sweep with its first unfinished run.
pub fn continue_sweep() {
    update(|s| {
        s.sweep.running = true;
        s.sweep.error = None;
    });
    next_run();
}

/// Stops after the current step; the run cut short is redone when the sweep continues.
pub fn stop_sweep() {
    update(|s| s.sweep.running = false);
    send(ToWorker::Stop);
}

/// Forgets the sweep, here and in IndexedDB.
pub fn forget_sweep() {
    update(|s| s.sweep = SweepState { restored: true, ..Default::default() });
    wasm_bindgen_futures::spawn_local(async {
        if let Err(e) = store::clear_sweep().await {
            update(|s| s.sweep.error = Some(e));
        }
    });
}

/// Sends the next unfinished run to the worker (fetching the corpus the first time), or ends the
/// sweep when every run is done.
fn next_run() {
    let s = sweep();
    let (Some(run), Some(plan), Some(backend)) = (s.next().cloned(), s.plan.clone(), s.backend) else {
        update(|s| {
            s.sweep.running = false;
            s.sweep.current = None;
        });
        return;
    };
    update(|s| s.sweep.current = Some((run.id.clone(), 0, f64::NAN)));
    wasm_bindgen_futures::spawn_local(async move {
        let corpus = match TEXT.with(|t| t.borrow().clone()) {
            Some(c) => c,
            None => match assets::fetch_text(assets::SHAKESPEARE).await {
                Ok(text) => {
                    let c = Rc::new(Corpus { name: assets::SHAKESPEARE_NAME.into(), text });
                    TEXT.with(|t| *t.borrow_mut() = Some(c.clone()));
                    c
                }
                Err(e) => {
                    update(|s| {
                        s.sweep.running = false;
                        s.sweep.error = Some(format!("fetching the corpus: {e}"));
                    });
                    return;
                }
            },
        };
        if !sweep().running {
            return;
        }
        let request = SweepRunRequest { settings: plan.settings, run, corpus: (*corpus).clone(), backend };
        send(ToWorker::SweepRun(Box::new(request)));
    });
}

/// A run's progress.
pub(super) fn on_progress(id: String, step: usize, loss: f64) {
    update(|s| {
        if s.sweep.current.as_ref().is_some_and(|c| c.0 == id) {
            s.sweep.current = Some((id, step, loss));
        }
    });
}

/// A run is done: its record is kept (and stored), and the next run starts.
pub(super) fn on_done(record: RunRecord) {
    let belongs = sweep().plan.as_ref().is_some_and(|p| p.runs.iter().any(|r| r.id == record.id));
    if !belongs {
        return;
    }
    update(|s| {
        s.sweep.records.retain(|r| r.id != record.id);
        s.sweep.records.push(record);
        s.sweep.current = None;
        s.status = None;
    });
    persist();
    if sweep().running {
        next_run();
    }
}

/// A run was stopped (Stop, or another job took the worker).
pub(super) fn on_stopped() {
    update(|s| {
        s.sweep.running = false;
        s.sweep.current = None;
        s.status = None;
    });
}
