//! The Train page's mixture-of-experts views: the router's load per expert as it trains, a heat
//! map of where each token of the newest sample went, and the previous run's curves beside this
//! one's (a MoE model against its dense twin of equal active FLOPs) by tokens and by wall time.
//! Views only: the numbers come from the worker's `MoeMetrics` and `BlockRoutes`.

use lmlab::telemetry::BlockRoutes;
use lmlab::units::format_count;
use yew::prelude::*;

use crate::components::charts::{LineChart, Series, PALETTE};
use crate::train::session::{loss_points, Sample, TrainState};

/// A color per expert: the chart palette, then evenly spaced hues.
fn expert_color(e: usize) -> String {
    match PALETTE.get(e) {
        Some(c) => (*c).to_string(),
        None => format!("hsl({}, 65%, 45%)", (e * 137) % 360),
    }
}

/// Live per-expert load bars of the newest step (one row per MoE block), the router's losses and
/// dropped share, and the balance loss over the run.
pub fn router_panel(st: &TrainState) -> Html {
    let Some(moe) = st.info.as_ref().and_then(|i| i.shape.moe) else { return html! {} };
    let latest = st.steps.iter().rev().find_map(|s| s.moe.as_ref());
    let even = 1.0 / moe.num_experts as f64;
    let balance = Series {
        label: "balance loss E·Σ f·P (1 = even)".into(),
        points: st.steps.iter().filter_map(|s| s.moe.as_ref().map(|m| (s.step as f64, m.balance_loss))).collect(),
    };
    let dropped = Series {
        label: "dropped pairs (%)".into(),
        points: st
            .steps
            .iter()
            .filter_map(|s| s.moe.as_ref().map(|m| (s.step as f64, 100.0 * m.dropped_fraction)))
            .collect(),
    };
    html! {
        <section class="panel router" id="train-moe">
            <h2>{"Router"}</h2>
            <p class="hint">{ format!(
                "{} experts per block, each token goes to its top {}{}; a token's experts are weighted by the router's \
                 renormalized probabilities. Each bar is an expert's share of the routed tokens in the newest step; the \
                 dashed line is an even share (1/{}).",
                moe.num_experts, moe.top_k,
                if moe.num_shared_experts > 0 { format!(" plus {} shared expert(s)", moe.num_shared_experts) } else { String::new() },
                moe.num_experts) }</p>
            if let Some(m) = latest {
                <dl class="stats">
                    <div><dt>{"Balance loss"}</dt><dd id="train-moe-balance">{ format!("{:.3}", m.balance_loss) }</dd></div>
                    <div><dt>{"Busiest expert"}</dt><dd id="train-moe-max-load">{ format!("{:.2}× even", m.max_load()) }</dd></div>
                    <div><dt>{"Router z-loss"}</dt><dd id="train-moe-z">{ format!("{:.3}", m.z_loss) }</dd></div>
                    <div><dt>{"Dropped"}</dt><dd id="train-moe-dropped">{ format!("{} pairs ({:.1}%)", m.dropped, 100.0 * m.dropped_fraction) }</dd></div>
                </dl>
                <div class="expert-loads">
                    { for m.expert_fraction.iter().enumerate().map(|(b, row)| html! {
                        <div class="expert-row" data-block={b.to_string()}>
                            <span class="block-label">{ format!("block {b}") }</span>
                            <div class="moe-bars">
                                { for row.iter().enumerate().map(|(e, f)| {
                                    let height = (f / (2.0 * even)).min(1.0) * 100.0;
                                    html! {
                                        <div class="expert-bar" data-expert={e.to_string()} data-fraction={f.to_string()}
                                            title={format!("expert {e}: {:.1}% of the routed tokens", 100.0 * f)}>
                                            <div class="fill" style={format!("height: {height:.1}%; background: {}", expert_color(e))} />
                                            <div class="even" />
                                            <span>{ e }</span>
                                        </div>
                                    }
                                }) }
                            </div>
                        </div>
                    }) }
                </div>
                <LineChart id="train-moe-chart" series={vec![balance, dropped]} x_label="step" y_label="balance loss · dropped %" />
            } else {
                <p class="hint">{"The first step's routing appears here."}</p>
            }
        </section>
    }
}

/// Which expert each token of the newest sample went to, block by block: a cell's color is the
/// token's first-choice expert, its opacity that expert's weight; the tooltip lists every choice.
pub fn route_heatmap(sample: &Sample) -> Html {
    if sample.routes.is_empty() {
        return html! {};
    }
    html! {
        <div class="route-map" id="train-routes" data-step={sample.step.to_string()}>
            <h3>{ format!("Where each token went (step {}): first-choice expert per block", sample.step) }</h3>
            <div class="route-scroll">
                <table>
                    <thead><tr><th />{ for sample.route_tokens.iter().map(|t| html! { <th class="token"><code>{ format!("{t:?}") }</code></th> }) }</tr></thead>
                    <tbody>
                        { for sample.routes.iter().map(|b| html! {
                            <tr data-block={b.layer.to_string()}>
                                <th>{ format!("block {}", b.layer) }</th>
                                { for (0..b.experts.len()).map(|t| route_cell(b, t)) }
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
        </div>
    }
}

fn route_cell(b: &BlockRoutes, t: usize) -> Html {
    let first = b.experts[t][0];
    let title: Vec<String> = (0..b.experts[t].len())
        .map(|j| {
            let dropped = if b.kept[t][j] { "" } else { " (dropped: expert full)" };
            format!("expert {} × {:.2}{dropped}", b.experts[t][j], b.weights[t][j])
        })
        .collect();
    let style = format!("background: {}; opacity: {:.2}", expert_color(first), 0.35 + 0.65 * b.weights[t][0]);
    let class = if b.kept[t][0] { "cell" } else { "cell dropped" };
    html! { <td class={class} data-expert={first.to_string()} title={title.join(", ")} style={style}>{ first }</td> }
}

/// The previous run's training loss beside this run's, against tokens seen and against wall time:
/// at equal active FLOPs a MoE model should reach a lower loss per token; whether it is also ahead
/// per second depends on the routing overhead.
pub fn comparison_panel(st: &TrainState, twin: Option<(String, Callback<MouseEvent>)>) -> Html {
    let twin_button = twin.map(|(name, cb)| {
        html! {
            <p class="actions"><button id="train-twin" onclick={cb}>{ format!("Set up its twin of equal active FLOPs ({name}) with the same settings") }</button>
            <span class="hint">{" then Start: this run's curve stays for comparison."}</span></p>
        }
    });
    let Some(previous) = &st.previous else {
        return html! { if let Some(b) = twin_button { <section class="panel compare" id="train-compare">{ b }</section> } };
    };
    let current = loss_points(&st.steps);
    let label = |preset: &str, params: u64| format!("{preset} ({} params)", format_count(params as f64));
    let this = label(&st.meta.preset, st.info.as_ref().map_or(0, |i| i.parameters));
    let that = format!("previous: {}", label(&previous.preset, previous.parameters));
    let by = |x: fn(&(f64, f64, f64)) -> f64| {
        vec![
            Series { label: that.clone(), points: previous.points.iter().map(|p| (x(p), p.2)).collect() },
            Series { label: this.clone(), points: current.iter().map(|p| (x(p), p.2)).collect() },
        ]
    };
    html! {
        <section class="panel compare" id="train-compare">
            <h2>{"This run against the previous one"}</h2>
            <p class="hint">{"Training loss per token seen (same data, same batches for the same seed) and per second of wall time. \
                A mixture of experts with the active FLOPs of a dense model should learn more per token; the routing \
                (router, dispatch, capacity padding) is what it pays per second."}</p>
            <div class="chart-pair">
                <LineChart id="train-compare-tokens" series={by(|p| p.0)} x_label="tokens seen" y_label="training loss" />
                <LineChart id="train-compare-time" series={by(|p| p.1)} x_label="wall time (s)" y_label="training loss" />
            </div>
            { for twin_button }
        </section>
    }
}
