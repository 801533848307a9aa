//! The Precision lab: one number in every format, bit by bit.

use lmlab::precision::{
    accumulation_demo, exercises, parse_input, parse_shape, parse_value, represent_input, tensor_bytes, Format, Input,
    Representation,
};
use lmlab::units::{format_number, parse_count};
use lmlab::InputError;
use yew::prelude::*;

use crate::components::charts::{LineChart, Series};
use crate::components::exercises::Exercises;
use crate::components::field::{SelectField, TextField};
use crate::route::{self, Page, Route};

#[derive(Properties, PartialEq)]
pub struct PrecisionProps {
    pub route: Route,
}

/// The accumulation demo is capped so a typo cannot freeze the tab.
const MAX_TIMES: u64 = 100_000;

#[function_component(PrecisionLab)]
pub fn precision_lab(props: &PrecisionProps) -> Html {
    let param = |k: &str, default: &str| props.route.get(k).unwrap_or(default).to_string();
    let x = use_state(|| param("x", "0.1"));
    let acc = use_state(|| param("acc", "0.01"));
    let times = use_state(|| param("n", "1000"));
    let shape = use_state(|| param("shape", "4x8"));
    let dtype = use_state(|| param("dtype", "fp32"));

    {
        let state = ((*x).clone(), (*acc).clone(), (*times).clone(), (*shape).clone(), (*dtype).clone());
        use_effect_with(state, |(x, acc, n, shape, dtype)| {
            route::replace_params(
                Page::Precision,
                vec![
                    ("x".into(), x.clone()),
                    ("acc".into(), acc.clone()),
                    ("n".into(), n.clone()),
                    ("shape".into(), shape.clone()),
                    ("dtype".into(), dtype.clone()),
                ],
            );
        });
    }

    let setter = |s: &UseStateHandle<String>| {
        let s = s.clone();
        Callback::from(move |v: String| s.set(v))
    };
    let parsed = parse_input("value", &x);
    let on_flip = {
        let x = x.clone();
        Callback::from(move |value: f64| x.set(shortest(value)))
    };

    html! {
        <section class="lab precision">
            <h1>{"Precision"}</h1>
            <p class="lead">{"Every tensor element is a few bits: a sign, an exponent and a mantissa. Type a number to see \
                how each format stores it — and what it costs in error. Click any bit to flip it."}</p>
            <div class="row">
                <TextField id="value-input" label="Number" value={(*x).clone()} oninput={setter(&x)}
                    error={parsed.as_ref().err().map(|e| e.to_string())}
                    hint="e.g. 0.1, 1e-8, 65504, 3.14159, inf, nan — rounded from the nearest float64" />
            </div>
            { match parsed {
                Ok(input) => formats_table(input, &on_flip),
                Err(_) => html! {},
            } }
            <details class="legend-note">
                <summary>{"How to read the bits"}</summary>
                <p><span class="bit sign demo">{"s"}</span>{" sign · "}<span class="bit exponent demo">{"e"}</span>
                   {" exponent (biased) · "}<span class="bit mantissa demo">{"m"}</span>
                   {" mantissa (stored fraction). Normal value = (−1)^s × 1.m × 2^(e − bias); subnormals (e = 0) drop the leading 1. \
                     Rounding is to nearest, ties to even. fp8 E4M3 has no infinity: overflow gives NaN."}</p>
            </details>
            { range_table() }
            { accumulation_view(&acc, &times, setter(&acc), setter(&times)) }
            { tensor_view(&shape, &dtype, setter(&shape), setter(&dtype)) }
            <Exercises exercises={exercises()} />
        </section>
    }
}

/// A value as the text box should show it after a bit flip: the shortest decimal that reads back
/// as the same float64.
fn shortest(value: f64) -> String {
    if value.is_nan() {
        "nan".into()
    } else {
        format!("{value}")
    }
}

fn formats_table(input: Input, on_flip: &Callback<f64>) -> Html {
    html! {
        <>
            if input.beyond_f64 {
                <p class="notice" id="beyond-f64">{ format!("This number is beyond float64's range (about ±1.8e308): \
                    it reads as {}, so every format below stores inf (NaN in fp8 E4M3, which has no infinity) \
                    and its error is infinite.", input.value) }</p>
            }
            <div class="formats" id="formats-table">
                { for Format::ALL.iter().map(|&f| format_row(represent_input(f, input), on_flip)) }
            </div>
        </>
    }
}

/// The ulp as shown: inf and NaN have no neighbours, so there is no spacing to print.
fn ulp_text(r: &Representation) -> (String, &'static str) {
    if r.ulp.is_finite() {
        (format_number(r.ulp), "spacing between this value and the next one")
    } else {
        ("—".into(), "no ulp: inf and NaN have no neighbouring values")
    }
}

/// One format: its bits (each a button that flips it), then what is stored and what it cost.
fn format_row(r: Representation, on_flip: &Callback<f64>) -> Html {
    let f = r.format;
    let e = f.exponent_bits() as usize;
    let bits: Vec<char> = r.bits.chars().collect();
    let total = bits.len();
    let raw = u64::from_str_radix(&r.bits, 2).unwrap_or(0);
    let ulp = ulp_text(&r);
    html! {
        <div data-format={f.key()} class={classes!("format-row", format!("class-{}", r.class.as_str()))}>
            <div class="format-name" title={f.title()}>{ f.key() }<span class="sub">{ format!("1·{}·{}", f.exponent_bits(), f.mantissa_bits()) }</span></div>
            <div class={classes!("bits", (total > 32).then_some("long"))} data-bits={r.bits.clone()}>
                { for bits.iter().enumerate().map(|(i, b)| {
                    let field = if i == 0 { "sign" } else if i <= e { "exponent" } else { "mantissa" };
                    let flipped = lmlab::precision::decode(f, raw ^ (1u64 << (total - 1 - i)));
                    let onclick = {
                        let cb = on_flip.clone();
                        Callback::from(move |_| cb.emit(flipped))
                    };
                    html! {
                        <button class={classes!("bit", field)} data-index={i.to_string()} {onclick}
                            title={format!("{field} bit — click to flip (→ {})", shortest(flipped))}>{ b.to_string() }</button>
                    }
                }) }
                <span class="hex">{ r.hex.clone() }</span>
            </div>
            <dl class="stored">
                <dt>{"stored"}</dt><dd class="value"><code class="exact">{ r.exact.clone() }</code></dd>
                <dt>{"class"}</dt><dd class="class">{ r.class.as_str() }</dd>
                <dt>{"abs error"}</dt><dd class="abs-error">{ format_number(r.abs_error) }</dd>
                <dt>{"rel error"}</dt><dd class="rel-error">{ format_number(r.rel_error) }</dd>
                <dt>{"ulp"}</dt><dd class="ulp" title={ulp.1}>{ ulp.0.clone() }</dd>
            </dl>
        </div>
    }
}

fn range_table() -> Html {
    html! {
        <section>
            <h2>{"Ranges"}</h2>
            <div class="table-scroll">
            <table class="ranges" id="ranges-table">
                <thead><tr>
                    <th>{"format"}</th><th>{"sign/exp/mantissa"}</th><th>{"bias"}</th><th>{"max finite"}</th>
                    <th>{"min normal"}</th><th>{"min subnormal"}</th><th>{"epsilon"}</th><th>{"decimal digits"}</th>
                </tr></thead>
                <tbody>
                    { for Format::ALL.iter().map(|f| {
                        let r = f.range();
                        html! {
                            <tr data-format={f.key()}>
                                <th scope="row">{ f.title() }</th>
                                <td>{ format!("1 / {} / {}", r.exponent_bits, r.mantissa_bits) }</td>
                                <td>{ r.bias }</td>
                                <td class="max" title={r.max_finite_exact.clone()}>{ format_number(r.max_finite) }</td>
                                <td title={format!("{:e}", r.min_normal)}>{ format_number(r.min_normal) }</td>
                                <td title={r.min_subnormal_exact.clone()}>{ format_number(r.min_subnormal) }</td>
                                <td title={format!("{:e}", r.epsilon)}>{ format_number(r.epsilon) }</td>
                                <td>{ format!("{:.2}", r.decimal_digits) }</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            </div>
        </section>
    }
}

fn accumulation_view(acc: &str, times: &str, on_acc: Callback<String>, on_times: Callback<String>) -> Html {
    let value = parse_value("value to add", acc).and_then(|v| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(InputError::new("value to add", acc, "a finite number"))
        }
    });
    let count = parse_count("times", times).and_then(|n| {
        if n <= MAX_TIMES {
            Ok(n)
        } else {
            Err(InputError::new("times", times, format!("at most {MAX_TIMES} in the browser (the CLI takes more)")))
        }
    });
    let body = match (&value, &count) {
        (Ok(v), Ok(n)) => {
            let runs = accumulation_demo(*v, *n as usize);
            // Plot at most ~400 points per line: enough to see the stalls, light for the DOM.
            let stride = (*n as usize / 400).max(1);
            // The running sums of all five recipes lie within a few percent of each other, so on a
            // linear axis four of them overlap. Their errors differ by orders of magnitude: plot
            // |running sum − exact| on a log axis, exact being value × additions (in f64, whose own
            // rounding is ~1e-16 relative, far below every recipe's). Zero errors cannot be drawn.
            let series: Vec<Series> = runs
                .iter()
                .map(|r| Series {
                    label: r.label.to_string(),
                    points: r
                        .trajectory
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| (i + 1) % stride == 0 || *i == 0)
                        .map(|(i, y)| ((i + 1) as f64, (y - *v * (i + 1) as f64).abs()))
                        .collect(),
                })
                .collect();
            let any_error = series.iter().flat_map(|s| &s.points).any(|(_, e)| *e > 0.0);
            html! {
                <>
                    if any_error {
                        <LineChart id="accumulation-chart" series={series} x_label="additions"
                            y_label="error |running sum − exact| (log)" log_y={true} />
                        <p class="hint">{"Error of each running sum against value × additions, on a log axis \
                            (a point where a recipe is exact, error 0, cannot be drawn and is left out)."}</p>
                    } else {
                        <p class="hint" id="accumulation-exact">{"Every recipe sums this value exactly: no error to plot."}</p>
                    }
                    <div class="table-scroll">
                    <table class="accumulation" id="accumulation-table">
                        <thead><tr><th>{"recipe"}</th><th>{"value added"}</th><th>{"result"}</th><th>{"error"}</th></tr></thead>
                        <tbody>
                            { for runs.iter().map(|r| html! {
                                <tr data-recipe={r.label}>
                                    <th scope="row">{ r.label }</th>
                                    <td>{ format!("{}", r.addend) }</td>
                                    <td class="result">{ format!("{}", r.result) }</td>
                                    <td>{ format_number(r.abs_error) }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                    </div>
                </>
            }
        }
        _ => html! {},
    };
    html! {
        <section>
            <h2>{"Accumulation: why mixed precision sums in fp32"}</h2>
            <p>{"Add a small value to an accumulator many times. Once the sum is large, each addition is smaller than \
                half a unit in the last place, and rounding throws it away."}</p>
            <div class="row">
                <TextField id="acc-value" label="Value to add" value={acc.to_string()} oninput={on_acc}
                    error={value.as_ref().err().map(|e| e.to_string())} />
                <TextField id="acc-times" label="Times" value={times.to_string()} oninput={on_times}
                    error={count.as_ref().err().map(|e| e.to_string())} />
            </div>
            { body }
            <p id="acc-in-training">{"The same lesson in training: "}
                <a href={route::href(Page::Train)}>{"the Train page"}</a>
                {"'s Precision \"bf16 mixed\" (and "}<code>{"lmlab train --precision bf16"}</code>
                {") rounds only the inputs of each matmul to bf16; the weights, the gradients that reach them, \
                  AdamW's moments and every sum (RMSNorm, softmax, the loss) stay fp32, so small updates are not \
                  rounded away as in the bf16 row above."}</p>
        </section>
    }
}

fn tensor_view(shape: &str, dtype: &str, on_shape: Callback<String>, on_dtype: Callback<String>) -> Html {
    let parsed = parse_shape(shape);
    let format = Format::parse(dtype).unwrap_or(Format::Fp32);
    let options: Vec<(String, String)> =
        Format::ALL.iter().map(|f| (f.key().to_string(), f.title().to_string())).collect();
    html! {
        <section>
            <h2>{"Tensor memory"}</h2>
            <div class="row">
                <TextField id="tensor-shape" label="Shape" value={shape.to_string()} oninput={on_shape}
                    error={parsed.as_ref().err().map(|e| e.to_string())} hint="e.g. 4x8, or 49152x12288 (a GPT-3 FFN matrix)" />
                <SelectField id="tensor-dtype" label="dtype" options={options} value={format.key()} onchange={on_dtype} />
            </div>
            if let Ok(dims) = parsed {
                { {
                    let m = tensor_bytes(&dims, format);
                    html! {
                        <p class="result" id="tensor-bytes">
                            { format!("{} elements × {} bytes = ", m.elements, m.bytes_per_element) }
                            <strong>{ format!("{} bytes", m.bytes) }</strong>{ format!(" ({})", m.human) }
                        </p>
                    }
                } }
            }
        </section>
    }
}
