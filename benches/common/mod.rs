//! Test data shared by the benchmarks (`benches/simple.rs`, `benches/compare.rs`).
//!
//! [`generate_text`] writes reproducible English-like text: a vocabulary of pseudo-words
//! drawn with Zipf-like frequencies (a few very common words, a long tail of rare ones, as in
//! real prose), lines of 5–15 words, the first word of each line capitalised (so the
//! lowercasing in `wordcount` matters), an occasional comma, a full stop at the end of each
//! line, a few non-ASCII letters, and now and then a tab or a double space between words.
//! Everything comes from [`dispel4rs::rng::SplitMix64`] with a fixed seed: the same sizes
//! give the same bytes on every machine and in every run.

use dispel4rs::rng::SplitMix64;
use std::collections::HashSet;

/// The seed of every generated text.
pub const TEXT_SEED: u64 = 0xD15_9E14_5EED;

/// Distinct words in the vocabulary.
pub const VOCABULARY: usize = 4000;

/// Zipf exponent of the word frequencies (≈1 for natural language).
const ZIPF_S: f64 = 1.05;

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "ch",
    "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr", "",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ea", "ou", "y", "é", "ü", "ø"];
const CODAS: &[&str] = &["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"];

/// Generated text and what a correct word count must find in it.
pub struct Text {
    /// The text, lines ending in `\n`.
    pub text: String,
    /// Number of words (whitespace-separated tokens) in it.
    pub words: u64,
    /// Number of lines.
    pub lines: u64,
}

/// A vocabulary of `n` distinct lowercase pseudo-words, most frequent first (short words
/// are drawn first, so common words tend to be short, as in real text).
fn vocabulary(rng: &mut SplitMix64, n: usize) -> Vec<String> {
    let mut seen = HashSet::with_capacity(n);
    let mut words = Vec::with_capacity(n);
    while words.len() < n {
        // 1 syllable for the first ~100 words, up to 4 for the tail.
        let max_syllables = 1 + (words.len() * 4 / n).min(3) as u64;
        let syllables = 1 + rng.below(max_syllables);
        let mut w = String::new();
        for _ in 0..syllables {
            w.push_str(ONSETS[rng.below(ONSETS.len() as u64) as usize]);
            // Non-ASCII vowels are rarer than plain ones.
            let v = if rng.below(20) == 0 { rng.below(VOWELS.len() as u64) } else { rng.below(9) };
            w.push_str(VOWELS[v as usize]);
            w.push_str(CODAS[rng.below(CODAS.len() as u64) as usize]);
        }
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// Cumulative Zipf weights for ranks 1..=n, normalised to end at 1.
fn zipf_cdf(n: usize) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|r| {
            acc += 1.0 / (r as f64).powf(ZIPF_S);
            acc
        })
        .collect();
    for c in &mut cdf {
        *c /= acc;
    }
    cdf
}

/// At least `target_bytes` of text (whole lines), from `seed`. See the module documentation.
pub fn generate_text(target_bytes: usize, seed: u64) -> Text {
    let mut rng = SplitMix64::new(seed);
    let vocab = vocabulary(&mut rng, VOCABULARY);
    let cdf = zipf_cdf(vocab.len());
    let mut text = String::with_capacity(target_bytes + 256);
    let (mut words, mut lines) = (0u64, 0u64);
    while text.len() < target_bytes {
        let n = 5 + rng.below(11);
        for i in 0..n {
            let u = rng.next_f64();
            let rank = cdf.partition_point(|&c| c < u).min(vocab.len() - 1);
            let word = &vocab[rank];
            if i == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    text.extend(first.to_uppercase());
                    text.push_str(chars.as_str());
                }
            } else {
                text.push_str(word);
            }
            if i + 1 < n {
                if rng.below(25) == 0 {
                    text.push(',');
                }
                match rng.below(100) {
                    0 => text.push('\t'),
                    1 => text.push_str("  "),
                    _ => text.push(' '),
                }
            }
        }
        text.push_str(".\n");
        words += n;
        lines += 1;
    }
    Text { text, words, lines }
}
