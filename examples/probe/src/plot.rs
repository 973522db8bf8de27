//! A small SVG chart of the loss terms per epoch: one panel per series, each
//! with its own vertical range, so no library is needed to look at a run.

use std::fmt::Write;

/// Renders named series (same length, one value per epoch) as a 2-column
/// grid of line charts.
pub fn svg(title: &str, series: &[(&str, &[f64])]) -> String {
    let (panel_w, panel_h, margin) = (360.0, 200.0, 48.0);
    let cols = 2;
    let rows = series.len().div_ceil(cols);
    let (width, height) = (cols as f64 * (panel_w + margin) + margin, rows as f64 * (panel_h + margin) + 2.0 * margin);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(out, r#"<text x="{margin}" y="28" font-size="16">{}</text>"#, escape(title));
    for (k, (name, values)) in series.iter().enumerate() {
        let (x0, y0) =
            (margin + (k % cols) as f64 * (panel_w + margin), 2.0 * margin + (k / cols) as f64 * (panel_h + margin));
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let _ = writeln!(
            out,
            r##"<rect x="{x0}" y="{y0}" width="{panel_w}" height="{panel_h}" fill="none" stroke="#999"/>"##
        );
        let _ = writeln!(out, r#"<text x="{x0}" y="{}">{}</text>"#, y0 - 6.0, escape(name));
        let _ = writeln!(out, r#"<text x="{}" y="{}" text-anchor="end">{hi:.3}</text>"#, x0 - 4.0, y0 + 10.0);
        let _ = writeln!(out, r#"<text x="{}" y="{}" text-anchor="end">{lo:.3}</text>"#, x0 - 4.0, y0 + panel_h);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">epoch {}</text>"#,
            x0 + panel_w,
            y0 + panel_h + 16.0,
            values.len()
        );
        let last = values.len().saturating_sub(1).max(1) as f64;
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| {
                format!("{:.1},{:.1}", x0 + panel_w * i as f64 / last, y0 + panel_h * (1.0 - (v - lo) / span))
            })
            .collect();
        let _ = writeln!(
            out,
            r##"<polyline fill="none" stroke="#1f6fb4" stroke-width="1.5" points="{}"/>"##,
            points.join(" ")
        );
    }
    out.push_str("</svg>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
