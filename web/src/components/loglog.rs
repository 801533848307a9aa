//! A scatter-and-line chart on a logarithmic x axis (and optionally y): what scaling laws are
//! drawn on. Points are circles, fits solid lines, published laws dashed; every mark carries its
//! series' label in `data-label`, so a test can find "the fitted line" in the DOM.

use lmlab::units::format_number;
use yew::prelude::*;

use super::charts::{ticks, PALETTE};

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Points,
    Line,
    Dashed,
}

/// One series: its label, its marks, its color (an index into the palette).
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub mark: Mark,
    pub color: usize,
}

#[derive(Properties, PartialEq)]
pub struct LogChartProps {
    pub id: AttrValue,
    pub plots: Vec<Plot>,
    pub x_label: AttrValue,
    pub y_label: AttrValue,
    #[prop_or_default]
    pub log_y: bool,
}

const W: f64 = 640.0;
const H: f64 = 320.0;
const LEFT: f64 = 66.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 44.0;

/// Tick values: powers of ten (every n-th decade) on a log axis, round values on a linear one
/// (the line chart's).
fn axis_ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if log {
        let (first, last) = (lo.ceil() as i32, hi.floor() as i32);
        if last - first >= 2 {
            let step = ((last - first) / 6 + 1).max(1) as usize;
            return (first..=last).step_by(step).map(|d| 10f64.powi(d)).collect();
        }
        // Two decades or less: 1, 2 and 5 times the powers of ten.
        return (lo.floor() as i32..=hi.ceil() as i32)
            .flat_map(|d| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(d)))
            .filter(|v| v.log10() >= lo && v.log10() <= hi)
            .collect();
    }
    ticks(lo, hi)
}

#[function_component(LogChart)]
pub fn log_chart(props: &LogChartProps) -> Html {
    let log_y = props.log_y;
    let tx = |x: f64| if x > 0.0 { x.log10() } else { f64::NAN };
    let ty = move |y: f64| {
        if !log_y {
            y
        } else if y > 0.0 {
            y.log10()
        } else {
            f64::NAN
        }
    };
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in props.plots.iter().flat_map(|p| p.points.iter()) {
        let (x, y) = (tx(x), ty(y));
        if x.is_finite() && y.is_finite() {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    if !x0.is_finite() {
        return html! { <p class="hint" id={props.id.clone()}>{"Nothing to plot yet."}</p> };
    }
    let pad_x = ((x1 - x0) * 0.05).max(0.05);
    let pad_y = ((y1 - y0) * 0.08).max(if log_y { 0.05 } else { 0.01 });
    (x0, x1, y0, y1) = (x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y);
    let sx = move |x: f64| LEFT + (tx(x) - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let sy = move |y: f64| H - BOTTOM - (ty(y) - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    let inside = move |x: f64, y: f64| {
        let (a, b) = (tx(x), ty(y));
        a.is_finite() && b.is_finite() && a >= x0 && a <= x1 && b >= y0 && b <= y1
    };
    let y_ticks = if log_y { axis_ticks(y0, y1, true) } else { axis_ticks(y0, y1, false) };
    html! {
        <figure class="chart loglog" id={props.id.clone()}>
            <div class="y-label">{ props.y_label.clone() }</div>
            <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label={props.y_label.clone()}>
                { for y_ticks.into_iter().map(|t| html! {
                    <g class="tick">
                        <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={sy(t).to_string()} y2={sy(t).to_string()} class="grid" />
                        <text x={(LEFT - 6.0).to_string()} y={(sy(t) + 4.0).to_string()} text-anchor="end">{ format_number(t) }</text>
                    </g>
                }) }
                { for axis_ticks(x0, x1, true).into_iter().map(|t| html! {
                    <text class="tick" x={sx(t).to_string()} y={(H - BOTTOM + 16.0).to_string()} text-anchor="middle">{ format_number(t) }</text>
                }) }
                { for props.plots.iter().map(|p| {
                    let color = PALETTE[p.color % PALETTE.len()];
                    match p.mark {
                        Mark::Points => html! {
                            <g class="points" data-label={p.label.clone()}>
                                { for p.points.iter().filter(|(x, y)| inside(*x, *y)).map(|&(x, y)| html! {
                                    <circle cx={format!("{:.1}", sx(x))} cy={format!("{:.1}", sy(y))} r="4" fill={color}
                                        data-x={x.to_string()} data-y={y.to_string()} />
                                }) }
                            </g>
                        },
                        Mark::Line | Mark::Dashed => {
                            let pts: Vec<String> = p.points.iter().filter(|(x, y)| inside(*x, *y))
                                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
                            html! { <polyline class={if p.mark == Mark::Dashed { "series dashed" } else { "series" }}
                                data-label={p.label.clone()} points={pts.join(" ")} stroke={color} /> }
                        }
                    }
                }) }
                <text class="axis-label" x={((LEFT + W - RIGHT) / 2.0).to_string()} y={(H - 6.0).to_string()} text-anchor="middle">{ props.x_label.clone() }</text>
            </svg>
            <figcaption class="legend">
                { for props.plots.iter().filter(|p| !p.label.is_empty()).map(|p| html! {
                    <span class="key"><span class={if p.mark == Mark::Points { "swatch dot" } else { "swatch" }}
                        style={format!("background:{}", PALETTE[p.color % PALETTE.len()])}></span>{ p.label.clone() }</span>
                }) }
            </figcaption>
        </figure>
    }
}
