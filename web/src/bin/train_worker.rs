//! The Train page's worker bundle (trunk builds it with `--features trainer`): registers the
//! training worker with the burn engine installed.

fn main() {
    web::train::worker::register(web::train::engine::start);
}
