//! The training worker as a `gloo-worker` type, shared by both bundles: the page spawns it (and
//! only needs its message types), the worker bundle registers it with an engine installed.
//!
//! The worker type itself holds no burn: incoming messages go into a channel that the engine
//! (feature `trainer`, `train::engine`) drains between training steps, and the engine answers
//! through an [`Outbox`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use gloo::worker::{HandlerId, Worker, WorkerScope};
use lmlab::train::protocol::{FromWorker, Stamped, ToWorker};

/// What the worker bundle runs when the worker starts: it receives the page's messages and
/// answers through the outbox.
pub type Engine = fn(UnboundedReceiver<ToWorker>, Outbox);

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Installs the engine before `TrainWorker::registrar().register()` (worker bundle only).
pub fn set_engine(engine: Engine) {
    ENGINE.with(|e| *e.borrow_mut() = Some(engine));
}

/// The training worker.
pub struct TrainWorker {
    inbox: UnboundedSender<ToWorker>,
    client: Rc<Cell<Option<HandlerId>>>,
}

/// Sends messages to the page (the one bridge that last spoke to the worker), stamped with the
/// session they belong to.
#[derive(Clone)]
pub struct Outbox {
    scope: WorkerScope<TrainWorker>,
    client: Rc<Cell<Option<HandlerId>>>,
    run: Rc<Cell<u64>>,
}

impl Outbox {
    pub fn send(&self, message: FromWorker) {
        if let Some(id) = self.client.get() {
            self.scope.respond(id, Stamped { run: self.run.get(), message });
        }
    }

    /// The session that what follows belongs to.
    pub fn set_run(&self, run: u64) {
        self.run.set(run);
    }
}

impl Worker for TrainWorker {
    type Message = ();
    type Input = ToWorker;
    type Output = Stamped;

    fn create(scope: &WorkerScope<Self>) -> Self {
        let (inbox, rx) = unbounded();
        let client = Rc::new(Cell::new(None));
        if let Some(engine) = ENGINE.with(|e| *e.borrow()) {
            engine(rx, Outbox { scope: scope.clone(), client: client.clone(), run: Rc::new(Cell::new(0)) });
        }
        Self { inbox, client }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}

    fn received(&mut self, _scope: &WorkerScope<Self>, msg: ToWorker, id: HandlerId) {
        self.client.set(Some(id));
        // The engine lives as long as the worker; a closed channel means it panicked (reported).
        let _ = self.inbox.unbounded_send(msg);
    }
}
