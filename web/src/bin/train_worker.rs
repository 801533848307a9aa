//! The Train page's worker bundle (trunk builds it with `--features trainer`): registers the
//! training worker with the burn engine installed.

use gloo::worker::Registrable;
use web::train::worker::{set_engine, TrainWorker};

fn main() {
    set_engine(web::train::engine::start);
    TrainWorker::registrar().register();
}
