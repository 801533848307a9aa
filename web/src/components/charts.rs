//! Small SVG charts drawn by hand: a line chart, horizontal bars, and a stacked bar.
//! No chart library: the main bundle stays small and the charts are plain DOM a test can read.

use lmlab::units::format_number;
use yew::prelude::*;

/// Colors for series and segments, in order.
pub const PALETTE: [&str; 8] = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#64748b"];

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Properties, PartialEq)]
pub struct LineChartProps {
    pub id: AttrValue,
    pub series: Vec<Series>,
    pub x_label: AttrValue,
    pub y_label: AttrValue,
    /// A dashed horizontal reference line (e.g. the exact answer), with its label.
    #[prop_or_default]
    pub reference: Option<(f64, String)>,
    /// A logarithmic y axis (positive values only; ticks stay at round values).
    #[prop_or_default]
    pub log_y: bool,
}

const W: f64 = 640.0;
const H: f64 = 300.0;
/// Margins hold the tick labels only (the y axis's name is HTML above the plot, so that it wraps
/// and keeps its size on a phone, where the SVG is scaled to half). Wide enough for "0.001" and
/// a centred "1000" at the phone stylesheet's larger tick text.
const LEFT: f64 = 66.0;
const RIGHT: f64 = 34.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// About five round tick values covering [lo, hi].
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..).map(|i| first + i as f64 * step).take_while(|v| *v <= hi + step * 1e-9).collect()
}

/// Powers of ten covering [10^lo, 10^hi] (lo, hi in decades): every decade, or every second,
/// third… one when the range is wide, so that a log axis gets at most about seven labels.
fn decade_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return Vec::new();
    }
    let (first, last) = (lo.ceil() as i32, hi.floor() as i32);
    let step = ((last - first) / 6 + 1).max(1);
    (first..=last).step_by(step as usize).map(|d| 10f64.powi(d)).collect()
}

#[function_component(LineChart)]
pub fn line_chart(props: &LineChartProps) -> Html {
    let log = props.log_y;
    // On a log axis everything is placed at log10(y); non-positive values cannot be drawn.
    let ty = move |y: f64| {
        if log {
            if y > 0.0 {
                y.log10()
            } else {
                f64::NAN
            }
        } else {
            y
        }
    };
    let all = props
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .map(|&(x, y)| (x, ty(y)))
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if let Some((r, _)) = &props.reference {
        if ty(*r).is_finite() {
            y0 = y0.min(ty(*r));
            y1 = y1.max(ty(*r));
        }
    }
    if !x0.is_finite() {
        return html! { <p class="hint">{"Nothing to plot."}</p> };
    }
    if !log {
        y0 = y0.min(0.0);
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let sx = move |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let sy = move |y: f64| H - BOTTOM - (ty(y) - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    // Round tick values in the data's own units, placed through `ty`.
    // A log axis spanning decades gets powers of ten; one spanning less than two (a loss going
    // from 6 to 2) keeps round linear values, which read better there.
    let y_ticks = match log {
        true if decade_ticks(y0, y1).len() >= 2 => decade_ticks(y0, y1),
        true => ticks(10f64.powf(y0), 10f64.powf(y1)),
        false => ticks(y0, y1),
    };
    html! {
        <figure class="chart" id={props.id.clone()} data-scale={if log { "log" } else { "linear" }}>
            <div class="y-label">{ props.y_label.clone() }</div>
            <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label={props.y_label.clone()}>
                { for y_ticks.into_iter().filter(|t| ty(*t).is_finite()).map(|t| html! {
                    <g class="tick">
                        <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={sy(t).to_string()} y2={sy(t).to_string()} class="grid" />
                        <text x={(LEFT - 6.0).to_string()} y={(sy(t) + 4.0).to_string()} text-anchor="end">{ format_number(t) }</text>
                    </g>
                }) }
                { for ticks(x0, x1).into_iter().map(|t| html! {
                    <text class="tick" x={sx(t).to_string()} y={(H - BOTTOM + 16.0).to_string()} text-anchor="middle">{ format_number(t) }</text>
                }) }
                if let Some((r, label)) = props.reference.as_ref().filter(|(r, _)| ty(*r).is_finite()) {
                    <line class="reference" x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={sy(*r).to_string()} y2={sy(*r).to_string()} />
                    <text class="reference-label" x={(W - RIGHT - 4.0).to_string()} y={(sy(*r) - 5.0).to_string()} text-anchor="end">{ label.clone() }</text>
                }
                { for props.series.iter().enumerate().map(|(i, s)| {
                    let pts: Vec<String> = s.points.iter().filter(|(x, y)| x.is_finite() && ty(*y).is_finite())
                        .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
                    html! { <polyline class="series" data-label={s.label.clone()} points={pts.join(" ")} stroke={PALETTE[i % PALETTE.len()]} /> }
                }) }
                <text class="axis-label" x={((LEFT + W - RIGHT) / 2.0).to_string()} y={(H - 6.0).to_string()} text-anchor="middle">{ props.x_label.clone() }</text>
            </svg>
            <figcaption class="legend">
                { for props.series.iter().enumerate().map(|(i, s)| html! {
                    <span class="key"><span class="swatch" style={format!("background:{}", PALETTE[i % PALETTE.len()])}></span>{ s.label.clone() }</span>
                }) }
            </figcaption>
        </figure>
    }
}

/// One bar: label, value (for the length) and the text printed beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

#[derive(Properties, PartialEq)]
pub struct BarChartProps {
    pub id: AttrValue,
    pub bars: Vec<Bar>,
}

/// Horizontal bars scaled to the largest value.
#[function_component(BarChart)]
pub fn bar_chart(props: &BarChartProps) -> Html {
    let max = props.bars.iter().map(|b| b.value).fold(0.0, f64::max);
    html! {
        <div class="bars" id={props.id.clone()}>
            { for props.bars.iter().enumerate().map(|(i, b)| {
                let pct = if max > 0.0 { 100.0 * b.value / max } else { 0.0 };
                html! {
                    <div class="bar-row" data-label={b.label.clone()}>
                        <span class="bar-label">{ b.label.clone() }</span>
                        <span class="bar-track">
                            <span class="bar-fill" style={format!("width:{pct:.2}%;background:{}", PALETTE[i % PALETTE.len()])}></span>
                        </span>
                        <span class="bar-value">{ b.text.clone() }</span>
                    </div>
                }
            }) }
        </div>
    }
}

/// A segment of a stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub label: String,
    pub value: f64,
    pub text: String,
}

#[derive(Properties, PartialEq)]
pub struct StackedBarProps {
    pub id: AttrValue,
    pub segments: Vec<Segment>,
    /// The capacity to compare against (drawn as a marker), with its label.
    #[prop_or_default]
    pub capacity: Option<(f64, String)>,
}

/// One bar split into segments, scaled to max(total, capacity), with a capacity marker.
#[function_component(StackedBar)]
pub fn stacked_bar(props: &StackedBarProps) -> Html {
    let total: f64 = props.segments.iter().map(|s| s.value).sum();
    let scale = props.capacity.as_ref().map_or(total, |(c, _)| c.max(total));
    let pct = |v: f64| if scale > 0.0 { 100.0 * v / scale } else { 0.0 };
    html! {
        <div class="stacked" id={props.id.clone()}>
            <div class="stack-track">
                { for props.segments.iter().enumerate().map(|(i, s)| html! {
                    <span class="stack-fill" title={format!("{}: {}", s.label, s.text)}
                        style={format!("width:{:.3}%;background:{}", pct(s.value), PALETTE[i % PALETTE.len()])}></span>
                }) }
                if let Some((c, _)) = &props.capacity {
                    <span class="capacity" style={format!("left:{:.3}%", pct(*c))}></span>
                }
            </div>
            <div class="legend">
                { for props.segments.iter().enumerate().map(|(i, s)| html! {
                    <span class="key"><span class="swatch" style={format!("background:{}", PALETTE[i % PALETTE.len()])}></span>{ format!("{} {}", s.label, s.text) }</span>
                }) }
                if let Some((_, label)) = &props.capacity { <span class="key capacity-key">{ format!("▏ {label}") }</span> }
            </div>
        </div>
    }
}
