//! The Scaling lab: an IsoFLOP sweep run by the student, fitted live, and the compute-optimal
//! model for any budget. The plan and every fit are `lmlab::scaling` (in this bundle: no burn);
//! the runs are trained in the training worker by `lmlab::train::sweep`, what `lmlab scaling
//! sweep` runs; the sweep's bookkeeping (next run, IndexedDB) is `train::session::sweep`. This
//! view only draws.

use lmlab::scaling::analysis::SweepFit;
use lmlab::scaling::law::Law;
use lmlab::scaling::reference::{chinchilla_rule, kaplan_optimum};
use lmlab::scaling::sweep::{budget_key, budgets_for, parse_budgets};
use lmlab::scaling::{analyze, exercises, RunRecord, StartGrid, SweepPlan, SweepSettings, SEED_BUDGET};
use lmlab::train::feasibility::reference_rate;
use lmlab::train::plan::Backend;
use lmlab::train::protocol::recommended_backend;
use lmlab::units::{format_count, format_duration, format_number, parse_positive};
use yew::prelude::*;

use crate::components::exercises::Exercises;
use crate::components::field::{SelectField, TextField};
use crate::components::loglog::{LogChart, Mark, Plot};
use crate::route::{href, Page, Route};
use crate::train::session::{self, EngineState};

#[derive(Properties, PartialEq)]
pub struct ScalingProps {
    pub route: Route,
}

/// How long the page's default sweep should take (seconds at the device's rate).
const TARGET_SECONDS: f64 = 150.0;

/// The backend the sweep runs on, and why.
fn backend_of(engine: &EngineState) -> (Backend, String) {
    match engine {
        EngineState::Ready(webgpu) => recommended_backend(webgpu),
        _ => (Backend::Cpu, "the training worker is still loading".into()),
    }
}

/// FLOP/s to plan with: the sweep's own runs when there are some, else the session's measured
/// rate, else the backend's reference.
fn planning_rate(
    records: &[RunRecord],
    measured: Option<f64>,
    backend: Backend,
    emulated: bool,
) -> (f64, &'static str) {
    let (flops, seconds) = records.iter().fold((0.0, 0.0), |(f, s), r| (f + r.flops, s + r.seconds));
    if seconds > 0.0 {
        return (flops / seconds, "measured on this sweep's runs");
    }
    match measured {
        Some(r) => (r, "measured by this session's training run"),
        None => (reference_rate(backend, emulated).0, "from a reference measurement of this kind of backend"),
    }
}

#[function_component(ScalingLab)]
pub fn scaling_lab(props: &ScalingProps) -> Html {
    let redraw = use_force_update();
    use_effect_with((), move |_| {
        let id = session::subscribe(Callback::from(move |_| redraw.force_update()));
        session::ensure_worker();
        session::restore_sweep();
        move || session::unsubscribe(id)
    });
    let st = session::state();
    let sweep = &st.sweep;
    let (backend, why) = backend_of(&st.engine);
    let emulated = matches!(&st.engine, EngineState::Ready(Ok(a)) if a.emulated);
    let sizes = use_state(|| props.route.get("sizes").unwrap_or("4").to_string());
    let typed = use_state(|| props.route.get("budgets").map(str::to_string));
    let predict_at = use_state(|| props.route.get("budget").unwrap_or("6.3e24").to_string());
    let sizes_n: usize = sizes.parse().unwrap_or(4);
    let base = SweepSettings { sizes_per_budget: sizes_n, ..SweepSettings::new(Vec::new()) };
    let (rate, rate_source) = planning_rate(&sweep.records, st.measured_rate(backend), backend, emulated);
    let default_budgets =
        budgets_for(rate, TARGET_SECONDS, &base).iter().map(|b| budget_key(*b)).collect::<Vec<_>>().join(",");
    let budgets_text = (*typed).clone().unwrap_or(default_budgets);
    let planned: Result<SweepPlan, String> = parse_budgets("budgets", &budgets_text)
        .map_err(|e| e.to_string())
        .and_then(|b| SweepPlan::new(SweepSettings { budgets: b, ..base.clone() }));
    let busy_training = st.phase.busy();
    let worker_ready = matches!(st.engine, EngineState::Ready(_));
    let running = sweep.running || sweep.current.is_some();
    let on_start = {
        let planned = planned.clone();
        Callback::from(move |_: MouseEvent| {
            if let Ok(p) = &planned {
                if let Err(e) = session::start_sweep(p.settings.clone(), backend) {
                    web_sys::console::error_1(&e.into());
                }
            }
        })
    };
    let fit = use_memo(sweep.records.clone(), |records| analyze(records, &StartGrid::paper()));
    let remaining = sweep.plan.as_ref().map_or(0, |p| p.runs.len().saturating_sub(sweep.records.len()));
    let prediction_budget = parse_positive("budget", &predict_at).map_err(|e| e.to_string());
    html! {
        <section class="lab scaling">
            <h1>{"Scaling laws"}</h1>
            <p>{"Given a compute budget C, how big a model, trained on how many tokens? Hoffmann et al. (2022) answered it by \
                training, for each of several budgets, models of many sizes on exactly the tokens the budget buys (C = FLOPs \
                per token × D): the final losses of one budget form a U in log N — an IsoFLOP curve — whose bottom is that \
                budget's compute-optimal N. The bottoms line up on a power law, N_opt ∝ C^a. Here you run that experiment \
                yourself, on the bundled Shakespeare, in this browser."}</p>
            <p class="hint">{"The models are one family: d_model = 8·k, k heads of 8, ⌈k/4⌉ layers, d_ff ≈ 8/3·d_model, context 64, \
                a 512-id BPE; N counts every parameter but the token embedding; D = C / (3 × forward FLOPs per token, attention \
                and LM head included — the "}<a href={href(Page::Compute)}>{"Compute lab's"}</a>{" accounting). Each run's \
                cosine schedule ends at its own last step."}</p>

            <section class="sweep-setup" id="sweep-setup">
                <h2>{"Plan a sweep"}</h2>
                <div class="row">
                    <TextField id="sweep-budgets" label="Budgets (FLOPs)" value={budgets_text.clone()}
                        oninput={{ let t = typed.clone(); Callback::from(move |v: String| t.set(Some(v))) }}
                        error={planned.as_ref().err().cloned()}
                        hint="Comma-separated. The default is sized to this device: a few minutes in all." />
                    <SelectField id="sweep-sizes" label="Sizes per budget"
                        options={["3", "4", "5", "6"].iter().map(|v| (v.to_string(), v.to_string())).collect::<Vec<_>>()}
                        value={(*sizes).clone()} onchange={{ let s = sizes.clone(); Callback::from(move |v: String| s.set(v)) }} />
                </div>
                <p class="hint" id="sweep-backend">{ format!("Runs on {}: {why}.", backend.label()) }</p>
                if let Ok(plan) = &planned {
                    <p id="sweep-estimate" data-seconds={(plan.total_flops() / rate).to_string()}>{ format!(
                        "{} runs, {} FLOPs in all: about {} at {} FLOP/s ({rate_source}).",
                        plan.runs.len(), format_number(plan.total_flops()), format_duration(plan.total_flops() / rate),
                        format_number(rate)) }</p>
                }
                <div class="row">
                    <button id="sweep-start" class="check" onclick={on_start}
                        disabled={running || busy_training || !worker_ready || planned.is_err()}>{"Start sweep"}</button>
                    if sweep.plan.is_some() && remaining > 0 && !running {
                        <button id="sweep-continue" onclick={Callback::from(|_: MouseEvent| session::continue_sweep())}
                            disabled={busy_training || !worker_ready}>{ format!("Continue sweep ({remaining} runs left)") }</button>
                    }
                    if running {
                        <button id="sweep-stop" onclick={Callback::from(|_: MouseEvent| session::stop_sweep())}>{"Stop"}</button>
                    }
                    if sweep.plan.is_some() && !running {
                        <button id="sweep-forget" onclick={Callback::from(|_: MouseEvent| session::forget_sweep())}>{"Forget sweep"}</button>
                    }
                </div>
                if busy_training {
                    <p class="hint" id="sweep-busy">{"The training worker is busy with a run on the Train page: stop it to run a sweep."}</p>
                }
                if let Some(e) = &sweep.error {
                    <p class="error" id="sweep-error" role="alert">{ e.clone() }</p>
                }
                <p class="hint">{"Natively, on any device: "}<code>{ format!("lmlab scaling sweep --budgets {} --sizes {sizes_n} --out runs/sweep", budgets_text.replace(' ', "")) }</code>
                    {" then "}<code>{"lmlab scaling fit runs/sweep"}</code></p>
            </section>

            if let Some(plan) = &sweep.plan {
                { runs_table(plan, &sweep.records, sweep.current.as_ref(), running) }
            }
            { match &*fit {
                Ok(fit) => fit_view(fit, &prediction_budget),
                Err(e) if !sweep.records.is_empty() => html! { <p class="hint" id="fit-pending">{ format!("Not fitted yet: {e}") }</p> },
                Err(_) => html! {},
            } }
            <section class="predict" id="predict">
                <h2>{"What a budget buys"}</h2>
                <TextField id="predict-budget" label="Budget (FLOPs)" value={(*predict_at).clone()}
                    oninput={{ let p = predict_at.clone(); Callback::from(move |v: String| p.set(v)) }}
                    error={prediction_budget.as_ref().err().cloned()}
                    hint="6.3e24 is the seed's example: about 1,024 H100s for a month." />
                if let Ok(c) = prediction_budget {
                    { prediction(c, fit.as_ref().as_ref().ok()) }
                }
            </section>
            <section class="discussion">
                <h2>{"Think about it"}</h2>
                <ul>
                    <li>{"Your fit's exponent a against Chinchilla's ≈ 0.5: why might they differ on 1 MB of Shakespeare? (How many \
                        epochs did the larger budgets' small models see? How much of N is the LM head at d_model 32?)"}</li>
                    <li>{"Kaplan et al. (2020) found N_opt ∝ C^0.73. Their runs shared one learning-rate schedule whatever D was — \
                        what does that do to the loss of a short run, and so to the optimum?"}</li>
                    <li>{"An IsoFLOP minimum outside the sizes swept is an extrapolation: which way would you move the sizes?"}</li>
                </ul>
            </section>
            <Exercises exercises={exercises()} />
        </section>
    }
}

fn runs_table(plan: &SweepPlan, records: &[RunRecord], current: Option<&(String, usize, f64)>, running: bool) -> Html {
    html! {
        <section class="sweep-runs" id="sweep-runs" data-done={records.len().to_string()} data-total={plan.runs.len().to_string()}
            data-running={running.to_string()}>
            <h2>{ format!("Runs: {} of {} done", records.len().min(plan.runs.len()), plan.runs.len()) }</h2>
            <div class="table-scroll">
            <table id="sweep-table">
                <thead><tr><th>{"run"}</th><th>{"C"}</th><th>{"N"}</th><th>{"D"}</th><th>{"steps"}</th><th>{"validation loss"}</th></tr></thead>
                <tbody>
                    { for plan.runs.iter().map(|r| {
                        let record = records.iter().find(|d| d.id == r.id);
                        let status = match (record, current.filter(|c| c.0 == r.id)) {
                            (Some(d), _) => match (d.val_loss, &d.diverged) {
                                (Some(l), _) => format!("{l:.4}"),
                                (None, Some(why)) => format!("diverged: {why} (left out)"),
                                _ => "—".into(),
                            },
                            (None, Some((_, step, loss))) => format!("training: step {step} of {}, loss {loss:.3}", r.steps),
                            _ => String::new(),
                        };
                        html! {
                            <tr data-id={r.id.clone()} data-loss={record.and_then(|d| d.val_loss).map(|l| l.to_string()).unwrap_or_default()}>
                                <td>{ r.id.clone() }</td><td>{ format_number(r.budget) }</td><td>{ format_count(r.params as f64) }</td>
                                <td>{ format_count(r.tokens as f64) }</td><td>{ r.steps }</td><td>{ status }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            </div>
        </section>
    }
}

/// log-spaced points from a to b.
fn span(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| (a.ln() + (b.ln() - a.ln()) * i as f64 / (n - 1) as f64).exp()).collect()
}

fn fit_view(fit: &SweepFit, _budget: &Result<f64, String>) -> Html {
    // IsoFLOP curves: each budget's losses and its parabola.
    let mut iso = Vec::new();
    for (i, b) in fit.budgets.iter().enumerate() {
        iso.push(Plot {
            label: format!("C = {}", budget_key(b.budget)),
            points: b.runs.iter().map(|r| (r.0, r.2)).collect(),
            mark: Mark::Points,
            color: i,
        });
        if let Some(p) = &b.parabola {
            let xs = span((p.x_min - 0.2).exp(), (p.x_max + 0.2).exp(), 40);
            iso.push(Plot {
                label: String::new(),
                points: xs.iter().map(|&n| (n, p.at(n.ln()))).collect(),
                mark: Mark::Line,
                color: i,
            });
        }
        if let Some(n) = b.n_opt {
            if let Some(p) = &b.parabola {
                iso.push(Plot { label: String::new(), points: vec![(n, p.at(n.ln()))], mark: Mark::Points, color: 7 });
            }
        }
    }
    let budgets: Vec<f64> = fit.budgets.iter().map(|b| b.budget).collect();
    let (c_lo, c_hi) = (budgets.first().copied().unwrap_or(1e9) / 2.0, budgets.last().copied().unwrap_or(1e10) * 2.0);
    let cs = span(c_lo, c_hi, 20);
    let optimum_chart = |id: &'static str,
                         label: &'static str,
                         pick: fn(&lmlab::scaling::analysis::BudgetFit) -> Option<f64>,
                         law: Option<lmlab::scaling::fit::PowerLaw>,
                         chin: fn(f64) -> f64,
                         kaplan: fn(f64) -> f64| {
        let mut plots = vec![Plot {
            label: format!("your {label} per budget"),
            points: fit.budgets.iter().filter_map(|b| Some((b.budget, pick(b)?))).collect(),
            mark: Mark::Points,
            color: 0,
        }];
        if let Some(l) = law {
            plots.push(Plot {
                label: format!("your fit: {label} ∝ C^{:.2}", l.exponent),
                points: cs.iter().map(|&c| (c, l.at(c))).collect(),
                mark: Mark::Line,
                color: 0,
            });
        }
        plots.push(Plot {
            label: "Chinchilla: 20 tokens per parameter".into(),
            points: cs.iter().map(|&c| (c, chin(c))).collect(),
            mark: Mark::Dashed,
            color: 1,
        });
        plots.push(Plot {
            label: "Kaplan et al. 2020".into(),
            points: cs.iter().map(|&c| (c, kaplan(c))).collect(),
            mark: Mark::Dashed,
            color: 2,
        });
        html! { <LogChart id={id} plots={plots} x_label="compute C (FLOPs)" y_label={label} log_y={true} /> }
    };
    // L(N, D) contours: the fitted law (Chinchilla's while there is none), runs on top.
    let (law, whose) = fit
        .law
        .as_ref()
        .map_or((Law::CHINCHILLA, "Chinchilla's law (yours needs 6 runs)"), |l| (l.law, "your L(N, D)"));
    let ns: Vec<f64> = fit.budgets.iter().flat_map(|b| b.runs.iter().map(|r| r.0)).collect();
    let ds: Vec<f64> = fit.budgets.iter().flat_map(|b| b.runs.iter().map(|r| r.1)).collect();
    let (n_lo, n_hi) =
        (ns.iter().cloned().fold(f64::INFINITY, f64::min) / 2.0, ns.iter().cloned().fold(0.0, f64::max) * 2.0);
    let losses: Vec<f64> = fit.budgets.iter().flat_map(|b| b.runs.iter().map(|r| r.2)).collect();
    let (l_lo, l_hi) =
        (losses.iter().cloned().fold(f64::INFINITY, f64::min), losses.iter().cloned().fold(0.0, f64::max));
    let mut contours = vec![Plot {
        label: "runs".into(),
        points: ns.iter().zip(&ds).map(|(&n, &d)| (n, d)).collect(),
        mark: Mark::Points,
        color: 7,
    }];
    for (i, level) in (0..5).map(|i| l_lo + (l_hi - l_lo) * i as f64 / 4.0).enumerate() {
        let pts: Vec<(f64, f64)> =
            span(n_lo, n_hi, 60).into_iter().filter_map(|n| Some((n, law.tokens_for_loss(n, level)?))).collect();
        contours.push(Plot { label: format!("loss {level:.2}"), points: pts, mark: Mark::Line, color: i });
    }
    html! {
        <section class="fits" id="fits">
            <h2>{"Your IsoFLOP curves"}</h2>
            <LogChart id="isoflop-chart" plots={iso} x_label="parameters N (log)" y_label="final validation loss (nats/token)" />
            <ul class="budget-fits" id="budget-fits">
                { for fit.budgets.iter().map(|b| html! {
                    <li data-budget={b.budget.to_string()} data-inside={b.inside.to_string()} data-nopt={b.n_opt.map(|n| n.to_string()).unwrap_or_default()}>
                        { match (b.n_opt, b.d_opt) {
                            (Some(n), Some(d)) => format!("C = {}: N_opt = {}{}, D_opt = {} ({:.1} tokens per parameter){}",
                                budget_key(b.budget), format_count(n),
                                b.n_opt_ln_se.map_or(String::new(), |s| format!(" (×/÷ {:.2})", s.exp())),
                                format_count(d), d / n, b.note.as_ref().map_or(String::new(), |n| format!(" — {n}"))),
                            _ => format!("C = {}: {}", budget_key(b.budget), b.note.clone().unwrap_or_default()),
                        } }
                    </li>
                }) }
                { for fit.excluded.iter().map(|e| html! { <li class="excluded">{ format!("left out: {} — {}", e.id, e.why) }</li> }) }
            </ul>
            <h2>{"The optima against compute"}</h2>
            { optimum_chart("nopt-chart", "N_opt", |b| b.n_opt, fit.n_opt_law, |c| chinchilla_rule(c).0, |c| kaplan_optimum(c).0) }
            { optimum_chart("dopt-chart", "D_opt", |b| b.d_opt, fit.d_opt_law, |c| chinchilla_rule(c).1, |c| kaplan_optimum(c).1) }
            <p id="fit-laws">
                { fit.n_opt_law.map_or(String::new(), |l| format!("N_opt = {:.3e}·C^{:.3}{}. ", l.coefficient, l.exponent,
                    l.exponent_se.map_or(String::new(), |s| format!(" ± {s:.3}")))) }
                { fit.d_opt_law.map_or(String::new(), |l| format!("D_opt = {:.3e}·C^{:.3}. ", l.coefficient, l.exponent)) }
                { fit.law.as_ref().map_or(String::new(), |l| format!(
                    "L(N, D) = {:.3} + {:.3}/N^{:.3} + {:.3}/D^{:.3} (Huber δ = 10⁻³, L-BFGS from {} starts).",
                    l.law.e, l.law.a, l.law.alpha, l.law.b, l.law.beta, l.starts)) }
            </p>
            { for fit.notes.iter().map(|n| html! { <p class="hint">{ n.clone() }</p> }) }
            <h2>{ format!("L(N, D) contours: {whose}") }</h2>
            <LogChart id="contour-chart" plots={contours} x_label="parameters N (log)" y_label="tokens D" log_y={true} />
        </section>
    }
}

fn prediction(c: f64, fit: Option<&SweepFit>) -> Html {
    let row = |who: &str, n: f64, d: f64, loss: Option<f64>| {
        html! {
            <tr data-who={who.to_string()} data-n={n.to_string()} data-d={d.to_string()}>
                <td>{ who.to_string() }</td><td>{ format_count(n) }</td><td>{ format_count(d) }</td>
                <td>{ format!("{:.1}", d / n) }</td><td>{ loss.map_or("—".into(), |l| format!("{l:.3}")) }</td>
            </tr>
        }
    };
    let p = fit.map(|f| f.predict(c));
    let chin = Law::CHINCHILLA.optimum(c);
    let (rn, rd) = chinchilla_rule(c);
    let (kn, kd) = kaplan_optimum(c);
    html! {
        <div class="table-scroll">
        <table id="predict-table">
            <thead><tr><th>{"law"}</th><th>{"N"}</th><th>{"D"}</th><th>{"tokens / parameter"}</th><th>{"loss"}</th></tr></thead>
            <tbody>
                if let Some(o) = p.as_ref().and_then(|p| p.law) { { row("your L(N, D)", o.params, o.tokens, Some(o.loss)) } }
                if let Some((n, d)) = p.as_ref().and_then(|p| p.power_laws) { { row("your IsoFLOP power laws", n, d, None) } }
                { row("Chinchilla's L(N, D)", chin.params, chin.tokens, Some(chin.loss)) }
                { row("Chinchilla's 20 tokens/parameter", rn, rd, None) }
                { row("Kaplan et al. 2020", kn, kd, None) }
            </tbody>
            <caption class="hint">{ format!("At C = {} FLOPs with C = 6·N·D. Your laws are fitted on tiny models and {}: \
                extrapolating them by many orders of magnitude is the lesson, not a forecast.",
                format_number(c), if c == SEED_BUDGET { "one corpus" } else { "one small corpus" }) }</caption>
        </table>
        </div>
    }
}
