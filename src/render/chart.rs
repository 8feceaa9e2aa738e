//! Charts as inline SVG, written by hand: lines and steps over time with axes, grid, legend and
//! markers, and a heat map of rows over time. Small on purpose: every element carries a class
//! the page's style sheet colours, a `<title>` tooltip where it helps, and `data-*` attributes
//! (series, points, largest value) that tests read back from the browser.

use super::svg::{colour, esc, px, text_width, tick_label, ticks};
use std::fmt::Write as _;

/// A series of a line chart.
#[derive(Clone, Debug)]
pub struct Line {
    /// Its name (legend, tooltip).
    pub name: String,
    /// Its colour.
    pub colour: &'static str,
    /// `(x, y)` in x order. A step series holds each y from its x to the next x.
    pub points: Vec<(f64, f64)>,
    /// Draw as steps.
    pub step: bool,
}

impl Line {
    /// A series coloured by position `i`.
    pub fn new(name: impl Into<String>, i: usize, points: Vec<(f64, f64)>, step: bool) -> Line {
        Line { name: name.into(), colour: colour(i), points, step }
    }
}

/// A vertical marker on a chart (a scaling decision): at `x`, with a tooltip.
#[derive(Clone, Debug)]
pub struct Marker {
    /// Where.
    pub x: f64,
    /// What it says.
    pub text: String,
}

/// The frame of a chart.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Width in pixels.
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
    /// The CSS class of the `<svg>` (besides `chart`).
    pub class: &'static str,
    /// What the chart shows (its accessible name).
    pub title: String,
    /// The x axis's unit.
    pub x_label: String,
    /// The y axis's unit.
    pub y_label: String,
}

const LEFT: f64 = 58.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

/// A line (or step) chart of `lines` over x from 0 to `x_max`, with `markers`.
pub fn lines(frame: &Frame, x_max: f64, lines: &[Line], markers: &[Marker]) -> String {
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let y_data = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
    let y_ticks = ticks(y_data, 4);
    let y_max = y_ticks.last().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE);
    let x_ticks = ticks(x_max, 6);
    let x_top = x_ticks.last().copied().unwrap_or(x_max).max(x_max);
    // A legend (several series) gets rows of its own above the plot.
    let legend = legend_rows(frame.width - LEFT - RIGHT, lines);
    // Room above the plot for the y unit, clear of the top tick's label.
    let top = TOP + 6.0 + legend.len() as f64 * 15.0;
    let (w, h) = (frame.width - LEFT - RIGHT, frame.height - top - BOTTOM);
    let sx = |x: f64| LEFT + x / x_top * w;
    let sy = |y: f64| top + h - y / y_max * h;
    let points: usize = lines.iter().map(|l| l.points.len()).sum();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart {}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" data-series="{}" data-points="{points}" data-max="{}"><title>{}</title>"#,
        frame.class,
        px(frame.width),
        px(frame.height),
        px(frame.width),
        px(frame.height),
        esc(&frame.title),
        lines.len(),
        y_data,
        esc(&frame.title)
    );
    out.push_str(r#"<g class="grid">"#);
    for y in &y_ticks {
        let _ = write!(
            out,
            r#"<line x1="{}" x2="{}" y1="{}" y2="{}"/>"#,
            px(LEFT),
            px(LEFT + w),
            px(sy(*y)),
            px(sy(*y))
        );
    }
    out.push_str("</g><g class=\"axis\">");
    for y in &y_ticks {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            px(LEFT - 6.0),
            px(sy(*y) + 4.0),
            esc(&tick_label(*y))
        );
    }
    for x in &x_ticks {
        let _ = write!(
            out,
            r#"<line x1="{0}" x2="{0}" y1="{1}" y2="{2}"/><text x="{0}" y="{3}" text-anchor="middle">{4}</text>"#,
            px(sx(*x)),
            px(top + h),
            px(top + h + 4.0),
            px(top + h + 16.0),
            esc(&tick_label(*x))
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{0}" x2="{0}" y1="{1}" y2="{2}"/><line x1="{0}" x2="{3}" y1="{2}" y2="{2}"/>"#,
        px(LEFT),
        px(top),
        px(top + h),
        px(LEFT + w)
    );
    let _ = write!(
        out,
        r#"<text class="unit" x="{}" y="{}" text-anchor="middle">{}</text><text class="unit" x="4" y="{}">{}</text></g>"#,
        px(LEFT + w / 2.0),
        px(frame.height - 3.0),
        esc(&frame.x_label),
        px(top - 9.0),
        esc(&frame.y_label)
    );
    for m in markers {
        let _ = write!(
            out,
            r#"<line class="marker" x1="{0}" x2="{0}" y1="{1}" y2="{2}"><title>{3}</title></line>"#,
            px(sx(m.x)),
            px(top),
            px(top + h),
            esc(&m.text)
        );
    }
    for l in lines {
        if l.points.is_empty() {
            continue;
        }
        let mut d = String::new();
        for (i, (x, y)) in l.points.iter().enumerate() {
            let (x, y) = (sx(x.clamp(0.0, x_top)), sy(*y));
            if i == 0 {
                let _ = write!(d, "M{} {}", px(x), px(y));
            } else if l.step {
                let _ = write!(d, "H{}V{}", px(x), px(y));
            } else {
                let _ = write!(d, "L{} {}", px(x), px(y));
            }
        }
        let _ = write!(
            out,
            r#"<path class="series" d="{d}" stroke="{}" data-name="{}"><title>{}</title></path>"#,
            l.colour,
            esc(&l.name),
            esc(&l.name)
        );
    }
    if !legend.is_empty() {
        out.push_str(r#"<g class="legend">"#);
        for (row, entries) in legend.iter().enumerate() {
            let y = 3.0 + row as f64 * 15.0;
            for (x, l) in entries {
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
                    px(LEFT + x),
                    px(y),
                    l.colour,
                    px(LEFT + x + 14.0),
                    px(y + 9.0),
                    esc(&l.name)
                );
            }
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// The legend of `lines` in rows that fit `width`: `(x offset, series)` per row; none for a
/// single series.
fn legend_rows(width: f64, lines: &[Line]) -> Vec<Vec<(f64, &Line)>> {
    if lines.len() < 2 {
        return Vec::new();
    }
    let mut rows: Vec<Vec<(f64, &Line)>> = vec![Vec::new()];
    let mut x = 0.0;
    for l in lines {
        let w = text_width(&l.name) + 24.0;
        if x + w > width && x > 0.0 {
            rows.push(Vec::new());
            x = 0.0;
        }
        if let Some(row) = rows.last_mut() {
            row.push((x, l));
        }
        x += w;
    }
    rows
}

/// A row of a heat map: its label and one value in `0..=1` per column.
#[derive(Clone, Debug)]
pub struct HeatRow {
    /// The label on the left.
    pub label: String,
    /// The row's tooltip.
    pub title: String,
    /// One value per column.
    pub values: Vec<f64>,
}

/// A heat map: one row per entry of `rows`, columns over x from 0 to `x_max` (every row has as
/// many values); darker is higher.
pub fn heatmap(class: &'static str, title: &str, width: f64, x_max: f64, rows: &[HeatRow]) -> String {
    const ROW: f64 = 14.0;
    let label_w = rows.iter().map(|r| text_width(&r.label)).fold(60.0, f64::max).min(260.0) + 10.0;
    let columns = rows.iter().map(|r| r.values.len()).max().unwrap_or(0).max(1);
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let plot_w = (width - label_w - RIGHT).max(50.0);
    let height = TOP + rows.len() as f64 * ROW + BOTTOM;
    let cell = plot_w / columns as f64;
    let mut out = String::new();
    let cells: usize = rows.iter().map(|r| r.values.iter().filter(|v| **v > 0.005).count()).sum();
    let _ = write!(
        out,
        r#"<svg class="chart heatmap {class}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" data-series="{}" data-points="{cells}" data-max="{}"><title>{}</title>"#,
        px(width),
        px(height),
        px(width),
        px(height),
        esc(title),
        rows.len(),
        rows.iter().flat_map(|r| r.values.iter().copied()).fold(0.0f64, f64::max),
        esc(title)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let _ = write!(
            out,
            r#"<g class="row"><title>{}</title><text x="{}" y="{}" text-anchor="end">{}</text><rect class="track" x="{}" y="{}" width="{}" height="{}"/>"#,
            esc(&r.title),
            px(label_w - 6.0),
            px(y + ROW - 3.0),
            esc(&r.label),
            px(label_w),
            px(y + 1.0),
            px(plot_w),
            px(ROW - 2.0)
        );
        for (c, v) in r.values.iter().enumerate() {
            if *v <= 0.005 {
                continue;
            }
            let _ = write!(
                out,
                r#"<rect class="cell" x="{}" y="{}" width="{}" height="{}" fill-opacity="{:.2}"/>"#,
                px(label_w + c as f64 * cell),
                px(y + 1.0),
                px(cell + 0.3),
                px(ROW - 2.0),
                v.clamp(0.0, 1.0)
            );
        }
        out.push_str("</g>");
    }
    let axis_y = TOP + rows.len() as f64 * ROW + 2.0;
    out.push_str(r#"<g class="axis">"#);
    for x in ticks(x_max, 6).into_iter().filter(|x| *x <= x_max * 1.0001) {
        let at = label_w + x / x_max * plot_w;
        let _ = write!(
            out,
            r#"<line x1="{0}" x2="{0}" y1="{1}" y2="{2}"/><text x="{0}" y="{3}" text-anchor="middle">{4}</text>"#,
            px(at),
            px(axis_y),
            px(axis_y + 4.0),
            px(axis_y + 16.0),
            esc(&tick_label(x))
        );
    }
    let _ = write!(
        out,
        r#"<text class="unit" x="{}" y="{}" text-anchor="middle">seconds since the start</text></g></svg>"#,
        px(label_w + plot_w / 2.0),
        px(height - 3.0)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            width: 400.0,
            height: 200.0,
            class: "t",
            title: "a <chart>".into(),
            x_label: "s".into(),
            y_label: "units/s".into(),
        }
    }

    #[test]
    fn a_line_chart_has_its_series_axes_and_data_attributes() {
        let svg = lines(
            &frame(),
            2.0,
            &[
                Line::new("a", 0, vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)], false),
                Line::new("b", 1, vec![(0.0, 0.0), (2.0, 1.0)], true),
            ],
            &[Marker { x: 1.0, text: "2 -> 3".into() }],
        );
        assert!(svg.starts_with("<svg class=\"chart t\""));
        assert!(svg.contains("data-series=\"2\" data-points=\"5\" data-max=\"3\""));
        assert_eq!(svg.matches("class=\"series\"").count(), 2);
        assert!(
            svg.contains("a &lt;chart&gt;") && svg.contains("class=\"legend\"") && svg.contains("2 -&gt; 3")
        );
        assert!(svg.contains("d=\"M58 122.3L"), "{svg}");
        assert!(svg.contains("d=\"M58 166H"), "{svg}");
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn a_heatmap_draws_only_cells_with_something_in_them() {
        let rows = vec![
            HeatRow { label: "x[0]".into(), title: "x".into(), values: vec![0.0, 0.5, 1.0] },
            HeatRow { label: "y[0]".into(), title: "y".into(), values: vec![0.001, 0.0, 0.2] },
        ];
        let svg = heatmap("busy", "busy", 500.0, 3.0, &rows);
        assert_eq!(svg.matches("class=\"cell\"").count(), 3);
        assert!(svg.contains("data-series=\"2\" data-points=\"3\" data-max=\"1\""));
    }
}
