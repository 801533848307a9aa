//! The app shell: header, navigation across the labs, and the current page.

use gloo::events::EventListener;
use yew::prelude::*;

use crate::pages;
use crate::route::{self, href, Page, Route};

#[function_component(App)]
pub fn app() -> Html {
    let route = use_state(route::current);
    {
        // Follow navigation (links, back/forward, a pasted URL).
        let route = route.clone();
        use_effect_with((), move |_| {
            let listener =
                web_sys::window().map(|w| EventListener::new(&w, "hashchange", move |_| route.set(route::current())));
            move || drop(listener)
        });
    }
    let page = route.page;
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        doc.set_title(&match page {
            Page::Home => "lmlab — build a language model from scratch".to_string(),
            p => format!("{} · lmlab", p.title()),
        });
    }
    html! {
        <div class="app">
            <header class="top">
                <a class="brand" href={href(Page::Home)}>{"lmlab"}</a>
                <nav>
                    { for Page::ALL.iter().filter(|p| **p != Page::Home).map(|p| nav_link(*p, page)) }
                </nav>
            </header>
            <main id="page" data-page={page.slug()}>
                { view(&route) }
            </main>
            <footer>
                {"lmlab — a lab for building a language model from scratch, in the spirit of Stanford's CS336. "}
                {"Every number on these pages comes from the same Rust code as the "}<code>{"lmlab"}</code>{" CLI."}
            </footer>
        </div>
    }
}

fn nav_link(page: Page, current: Page) -> Html {
    let mut class = classes!("nav-link");
    if page == current {
        class.push("active");
    }
    html! {
        <a {class} href={href(page)} id={format!("nav-{}", page.slug())}>
            { page.title() }
        </a>
    }
}

fn view(route: &Route) -> Html {
    // Keyed by the fragment: a navigation re-creates the page from the URL's state.
    let key = route.to_fragment();
    match route.page {
        Page::Home => html! { <pages::home::Home /> },
        Page::Tokenizers => html! { <pages::tokenizers::TokenizersLab key={key} route={route.clone()} /> },
        Page::Precision => html! { <pages::precision::PrecisionLab key={key} route={route.clone()} /> },
        Page::Compute => html! { <pages::compute::ComputeLab key={key} route={route.clone()} /> },
        Page::Hardware => html! { <pages::hardware::HardwareLab key={key} route={route.clone()} /> },
        Page::Train => html! { <pages::train::TrainLab key={key} route={route.clone()} /> },
        Page::Scaling => html! { <pages::scaling::ScalingLab key={key} route={route.clone()} /> },
    }
}
