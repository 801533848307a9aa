//! The training worker and the page's handle on it, shared by both bundles: the page spawns the
//! worker ([`Bridge`]; it only needs the message types), the worker bundle registers its engine
//! ([`register`]).
//!
//! A plain `web_sys::Worker` rather than gloo's worker bridge, for one reason: the page must be
//! able to *terminate* it. A training step is one long synchronous call inside the worker (a
//! large model on the CPU backend: minutes); messages wait until it ends, so Stop could not be
//! answered. The page then ends the worker outright and spawns a fresh one — gloo's bridge hides
//! the `Worker` it made. Messages are gloo's bincode codec (bytes, not JSON: checkpoints are MBs).
//!
//! The worker holds no burn: incoming messages go into a channel that the engine (feature
//! `trainer`, `train::engine`) drains between training steps, and the engine answers through an
//! [`Outbox`].

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::mpsc::{unbounded, UnboundedReceiver};
use gloo::worker::{Bincode, Codec};
use lmlab::train::protocol::{FromWorker, Stamped, ToWorker};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// What the worker bundle runs when the worker starts: it receives the page's messages and
/// answers through the outbox.
pub type Engine = fn(UnboundedReceiver<ToWorker>, Outbox);

/// The worker's first message, once its wasm runs and it listens: messages the page posted
/// before would have found no listener, so the page holds them until this arrives.
const LISTENING: &str = "lmlab-train-worker-listening";

/// The page's handle on the worker. Dropping it terminates the worker.
pub struct Bridge {
    worker: web_sys::Worker,
    /// Messages posted before the worker listens.
    queue: Rc<RefCell<Option<Vec<JsValue>>>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Bridge {
    /// Starts the worker bundle through its loader script; `on_message` gets every message.
    pub fn spawn(loader: &str, on_message: impl Fn(Stamped) + 'static) -> Result<Bridge, String> {
        let worker = web_sys::Worker::new(loader).map_err(|e| format!("starting the training worker: {e:?}"))?;
        let queue = Rc::new(RefCell::new(Some(Vec::new())));
        let on_message = {
            let (worker, queue) = (worker.clone(), queue.clone());
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let data = e.data();
                if data.as_string().as_deref() == Some(LISTENING) {
                    for held in queue.borrow_mut().take().unwrap_or_default() {
                        let _ = worker.post_message(&held);
                    }
                } else {
                    on_message(Bincode::decode(data));
                }
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Ok(Bridge { worker, queue, _on_message: on_message })
    }

    pub fn send(&self, msg: ToWorker) {
        let data = Bincode::encode(msg);
        match self.queue.borrow_mut().as_mut() {
            Some(held) => held.push(data),
            None => {
                let _ = self.worker.post_message(&data);
            }
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.terminate();
    }
}

/// Sends messages to the page, stamped with the session they belong to.
#[derive(Clone)]
pub struct Outbox {
    scope: DedicatedWorkerGlobalScope,
    run: Rc<std::cell::Cell<u64>>,
}

impl Outbox {
    pub fn send(&self, message: FromWorker) {
        let _ = self.scope.post_message(&Bincode::encode(Stamped { run: self.run.get(), message }));
    }

    /// The session that what follows belongs to.
    pub fn set_run(&self, run: u64) {
        self.run.set(run);
    }
}

/// In the worker bundle: listens to the page and starts `engine` (call once, from `main`).
pub fn register(engine: Engine) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let (inbox, rx) = unbounded();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        // The engine lives as long as the worker; a closed channel means it panicked (reported).
        let _ = inbox.unbounded_send(Bincode::decode::<ToWorker>(e.data()));
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The worker's whole life.
    on_message.forget();
    engine(rx, Outbox { scope: scope.clone(), run: Rc::new(std::cell::Cell::new(0)) });
    let _ = scope.post_message(&LISTENING.into());
}
