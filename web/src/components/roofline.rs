//! The roofline chart: FLOP/s against arithmetic intensity on log-log axes, with the measured roofs
//! (copy bandwidth, best matmul) and a catalog GPU's datasheet roofs, and each kernel as a point.

use lmlab::hardware::report::roofline;
use lmlab::units::format_number;
use yew::prelude::*;

use crate::components::charts::PALETTE;

/// One kernel measurement on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    /// FLOPs per byte.
    pub intensity: f64,
    /// FLOP/s.
    pub flops: f64,
    /// Index into the palette (same color per kernel across sizes).
    pub color: usize,
}

/// A roof: bandwidth (bytes/s) rising to a flat peak (FLOP/s).
#[derive(Debug, Clone, PartialEq)]
pub struct Roof {
    pub label: String,
    pub bandwidth: f64,
    pub peak: f64,
    pub class: &'static str,
}

#[derive(Properties, PartialEq)]
pub struct RooflineProps {
    pub points: Vec<Point>,
    pub roofs: Vec<Roof>,
}

const W: f64 = 680.0;
const H: f64 = 380.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 46.0;

fn decade_floor(x: f64) -> f64 {
    10f64.powf(x.log10().floor())
}

fn decade_ceil(x: f64) -> f64 {
    10f64.powf(x.log10().ceil())
}

#[function_component(Roofline)]
pub fn roofline_chart(props: &RooflineProps) -> Html {
    let xs = props.points.iter().map(|p| p.intensity).filter(|x| *x > 0.0 && x.is_finite());
    let x_min = decade_floor(xs.clone().fold(0.1f64, f64::min));
    let x_max = decade_ceil(xs.fold(1000.0f64, f64::max));
    let ys = props
        .points
        .iter()
        .map(|p| p.flops)
        .chain(props.roofs.iter().map(|r| r.peak))
        .chain(props.roofs.iter().map(|r| r.bandwidth * x_min))
        .filter(|y| *y > 0.0 && y.is_finite());
    let y_min = decade_floor(ys.clone().fold(f64::INFINITY, f64::min).min(1e9));
    let y_max = decade_ceil(ys.fold(0.0f64, f64::max).max(1e10) * 1.5);
    let (lx0, lx1, ly0, ly1) = (x_min.log10(), x_max.log10(), y_min.log10(), y_max.log10());
    let sx = move |x: f64| LEFT + (x.log10() - lx0) / (lx1 - lx0) * (W - LEFT - RIGHT);
    let sy = move |y: f64| H - BOTTOM - (y.log10() - ly0) / (ly1 - ly0) * (H - TOP - BOTTOM);
    let decades = |lo: f64, hi: f64| (lo.round() as i32..=hi.round() as i32).map(|e| 10f64.powi(e)).collect::<Vec<_>>();
    let roof_path = |r: &Roof| {
        // The bend sits at the ridge point; sample the two straight pieces in log space.
        let ridge = (r.peak / r.bandwidth).clamp(x_min, x_max);
        [x_min, ridge, x_max]
            .iter()
            .map(|&x| format!("{:.1},{:.1}", sx(x), sy(roofline(x, r.peak, r.bandwidth).max(y_min))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    html! {
        <figure class="chart roofline" id="roofline">
            <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label="roofline: GFLOP/s against FLOPs per byte">
                { for decades(ly0, ly1).into_iter().map(|t| html! {
                    <g class="tick">
                        <line x1={LEFT.to_string()} x2={(W - RIGHT).to_string()} y1={sy(t).to_string()} y2={sy(t).to_string()} class="grid" />
                        <text x={(LEFT - 6.0).to_string()} y={(sy(t) + 4.0).to_string()} text-anchor="end">{ format_number(t / 1e9) }</text>
                    </g>
                }) }
                { for decades(lx0, lx1).into_iter().map(|t| html! {
                    <g class="tick">
                        <line x1={sx(t).to_string()} x2={sx(t).to_string()} y1={TOP.to_string()} y2={(H - BOTTOM).to_string()} class="grid" />
                        <text x={sx(t).to_string()} y={(H - BOTTOM + 16.0).to_string()} text-anchor="middle">{ format_number(t) }</text>
                    </g>
                }) }
                { for props.roofs.iter().map(|r| html! {
                    <g class={classes!("roof", r.class)} data-label={r.label.clone()}>
                        <polyline points={roof_path(r)} />
                        <text x={(W - RIGHT - 4.0).to_string()} y={(sy(r.peak) - 6.0).to_string()} text-anchor="end">{ r.label.clone() }</text>
                    </g>
                }) }
                { for props.points.iter().map(|p| html! {
                    <circle class="point" data-label={p.label.clone()} cx={format!("{:.1}", sx(p.intensity))} cy={format!("{:.1}", sy(p.flops))}
                        r="5" fill={PALETTE[p.color % PALETTE.len()]}>
                        <title>{ format!("{}: {} GFLOP/s at {} FLOP/byte", p.label, format_number(p.flops / 1e9), format_number(p.intensity)) }</title>
                    </circle>
                }) }
                <text class="axis-label" x={((LEFT + W - RIGHT) / 2.0).to_string()} y={(H - 8.0).to_string()} text-anchor="middle">{"arithmetic intensity (FLOPs per byte of compulsory traffic)"}</text>
                <text class="axis-label" transform={format!("translate(16 {}) rotate(-90)", (TOP + H - BOTTOM) / 2.0)} text-anchor="middle">{"GFLOP/s"}</text>
            </svg>
        </figure>
    }
}
