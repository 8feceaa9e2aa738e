//! The few pieces every picture is written with: XML escaping, compact numbers, "nice" axis
//! ticks, a colour palette, and text width estimates (no font is measured: pictures are laid
//! out for a sans-serif face of about 7 px per character at 12 px).

/// `s` with the five XML specials escaped (safe in text and in attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal (SVG stays small).
pub fn px(x: f64) -> String {
    if !x.is_finite() {
        return "0".into();
    }
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Estimated width in pixels of `text` at 12 px.
pub fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 7.0
}

/// Up to about `n` round tick values from 0 to at least `max` (steps of 1, 2 or 5 × 10^k).
pub fn ticks(max: f64, n: usize) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let count = (max / step).ceil() as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

/// A tick label: `0`, `2.5`, `40 k`, `1.2 M`.
pub fn tick_label(x: f64) -> String {
    let (v, suffix) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, " G"),
        a if a >= 1e6 => (x / 1e6, " M"),
        a if a >= 1e3 => (x / 1e3, " k"),
        _ => (x, ""),
    };
    let text = if v == v.trunc() { format!("{}", v as i64) } else { format!("{v:.1}") };
    format!("{text}{suffix}")
}

/// A duration in seconds, readable: `850 ns`, `12.5 µs`, `3.20 ms`, `1.25 s`.
pub fn seconds(s: f64) -> String {
    match s {
        s if s <= 0.0 => "0".into(),
        s if s < 1e-6 => format!("{:.0} ns", s * 1e9),
        s if s < 1e-3 => format!("{:.1} µs", s * 1e6),
        s if s < 1.0 => format!("{:.2} ms", s * 1e3),
        s => format!("{s:.2} s"),
    }
}

/// Colours of series, PEs and slots (distinguishable, colour-blind aware: Okabe–Ito).
pub const PALETTE: [&str; 8] =
    ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

/// The colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_ticks_and_labels() {
        assert_eq!(esc("a<b & \"c\"'\u{1}"), "a&lt;b &amp; &quot;c&quot;&#39; ");
        assert_eq!(px(1.04), "1");
        assert_eq!(px(1.25), "1.3");
        assert_eq!(px(f64::NAN), "0");
        assert_eq!(ticks(9.0, 4), vec![0.0, 5.0, 10.0]);
        assert_eq!(ticks(0.0, 4), vec![0.0, 0.5, 1.0]);
        assert_eq!(ticks(1234.0, 5).last(), Some(&1500.0));
        assert_eq!(tick_label(40_000.0), "40 k");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(seconds(0.00125), "1.25 ms");
        assert_eq!(seconds(3e-8), "30 ns");
    }
}
