//! The jobs' pictures, as SVG: the loss terms per epoch on one chart with
//! ticks and numbers on both axes and a legend, and representations
//! projected to their first two principal components, coloured by label.
//! Each is drawn whole in memory, then written through
//! [`output::replace`](crate::output::replace).

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

/// Ten colours that stay apart (the digits, the activities).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn failed(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

/// A chart of two f64 axes on an SVG.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
/// What drawing on an SVG can fail with.
type Failure = DrawingAreaErrorKind<std::io::Error>;

/// Both axes with ticks, numbers and their titles; no inner grid.
fn axes(chart: &mut Chart<'_, '_>, (x, y): (&str, &str)) -> Result<(), Failure> {
    chart.configure_mesh().x_desc(x).y_desc(y).light_line_style(WHITE.mix(0.0)).draw()
}

/// The legend, in the upper right corner.
fn legend<'b>(chart: &mut Chart<'b, 'b>) -> Result<(), Failure> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
}

/// Draws named series (one value per epoch, epoch 1 first) on one chart:
/// epochs on x, the value on y, a legend naming each series.
///
/// # Errors
///
/// The file that could not be drawn, and why.
pub fn loss_curves(path: &Path, title: &str, series: &[(&str, &[f64])]) -> Result<(), String> {
    let epochs = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0).max(1);
    let finite = || series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite());
    let (lo, hi) = (finite().fold(f64::INFINITY, f64::min).min(0.0), finite().fold(0.0f64, f64::max));
    let hi = if hi > lo { hi * 1.05 } else { lo + 1.0 };
    svg_file("--plot", path, |svg| {
        let root = SVGBackend::with_string(svg, (900, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed("--plot", path, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(1f64..epochs.max(2) as f64, lo..hi)
            .map_err(|e| failed("--plot", path, e))?;
        axes(&mut chart, ("epoch", "mean over the epoch's steps")).map_err(|e| failed("--plot", path, e))?;
        for (k, (name, values)) in series.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let points = values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, v)| ((i + 1) as f64, *v));
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(|e| failed("--plot", path, e))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        legend(&mut chart).map_err(|e| failed("--plot", path, e))?;
        root.present().map_err(|e| failed("--plot", path, e))
    })
}

/// Draws an SVG into memory with `draw`, then writes it to `path` whole
/// ([`output::replace`](crate::output::replace)); `flag` names the option
/// in a message.
fn svg_file(flag: &str, path: &Path, draw: impl FnOnce(&mut String) -> Result<(), String>) -> Result<(), String> {
    let mut svg = String::new();
    draw(&mut svg)?;
    crate::output::replace(path, svg.as_bytes()).map_err(|e| format!("{flag} {e}"))
}

/// A panel of [`projections`]: its caption and its rows (features, label).
pub type Panel<'r> = (&'r str, &'r [(Vec<f32>, usize)]);

/// Projects each panel's rows onto their own first two principal components
/// and draws them side by side, one colour per label (`names[label]` in the
/// legend). Rows are (features, label).
///
/// # Errors
///
/// The file that could not be drawn, and why.
pub fn projections(path: &Path, title: &str, panels: &[Panel<'_>], names: &[&str]) -> Result<(), String> {
    svg_file("--projection", path, |svg| draw_projections(svg, path, title, panels, names))
}

fn draw_projections(
    svg: &mut String,
    path: &Path,
    title: &str,
    panels: &[Panel<'_>],
    names: &[&str],
) -> Result<(), String> {
    let root = SVGBackend::with_string(svg, (480 * panels.len().max(1) as u32, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed("--projection", path, e))?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(|e| failed("--projection", path, e))?;
    for (area, (caption, rows)) in root.split_evenly((1, panels.len().max(1))).iter().zip(panels) {
        let points = crate::pca::project2(rows.iter().map(|(f, _)| f.as_slice()));
        let bound = |k: usize| {
            let (lo, hi) =
                points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p[k]), hi.max(p[k])));
            let pad = 0.05 * (hi - lo).max(1e-9);
            (lo - pad)..(hi + pad)
        };
        let mut chart = ChartBuilder::on(area)
            .caption(*caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(bound(0), bound(1))
            .map_err(|e| failed("--projection", path, e))?;
        axes(&mut chart, ("principal component 1", "principal component 2"))
            .map_err(|e| failed("--projection", path, e))?;
        for (label, name) in names.iter().enumerate() {
            let colour = PALETTE[label % PALETTE.len()];
            let mine = points.iter().zip(rows.iter()).filter(|(_, (_, l))| *l == label).map(|(p, _)| (p[0], p[1]));
            chart
                .draw_series(mine.map(|p| Circle::new(p, 2, colour.filled())))
                .map_err(|e| failed("--projection", path, e))?
                .label(*name)
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, colour.filled()));
        }
        legend(&mut chart).map_err(|e| failed("--projection", path, e))?;
    }
    root.present().map_err(|e| failed("--projection", path, e))
}

/// The texts of an SVG drawn here (titles, axis descriptions, tick numbers,
/// legend entries), trimmed: what a test reads to check that a chart has
/// its axes and legend.
#[must_use]
pub fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_owned()))
        .collect()
}
