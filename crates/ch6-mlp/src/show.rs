//! # Showing a digit and a confusion matrix in the terminal
//!
//! Stage 4 of the course (chapter 6): what `predict` and `evaluate` print.
//! Plain text, so it works in any terminal and in a log file.

use mnist::{CLASSES, Dataset};

use crate::mlp::Mlp;

/// What `predict` prints: test image `i` of `data` drawn, its label, the
/// network's guess (right or wrong) and its three most probable digits.
pub fn prediction(mlp: &mut Mlp<f32>, data: &Dataset, i: usize) -> String {
    let top = top3(&mlp.probabilities(data, i));
    let label = data.labels()[i];
    let verdict = if top[0].0 == label as usize {
        "right"
    } else {
        "wrong"
    };
    let mut out = digit(data, i);
    out += &format!(
        "Test image {i}: label {label}, predicted {} ({verdict})\n",
        top[0].0
    );
    for (digit, p) in top {
        out += &format!("  {digit}: {:6.2}%\n", 100.0 * p);
    }
    out
}

/// What `evaluate` prints: the accuracy on `data`, then its confusion matrix.
pub fn evaluation(mlp: &mut Mlp<f32>, data: &Dataset) -> String {
    let predicted = mlp.predictions(data);
    let accuracy = mnist::fraction_correct(&predicted, data.labels());
    let right = (accuracy * data.len() as f64).round() as usize;
    format!(
        "Test accuracy: {:.2}% ({right} of {})\n\n{}",
        100.0 * accuracy,
        data.len(),
        confusion_table(&confusion_matrix(data.labels(), &predicted))
    )
}

/// Image `i` of `data` as 28 lines of text, darker pixels as denser
/// characters, each pixel two characters wide so the digit keeps its shape.
pub fn digit(data: &Dataset, i: usize) -> String {
    const SHADES: &[u8] = b" .:-=+*#%@";
    let mut out = String::new();
    for row in data.image(i).chunks(28) {
        for &p in row {
            let c = SHADES[p as usize * (SHADES.len() - 1) / 255] as char;
            out.push(c);
            out.push(c);
        }
        out.push('\n');
    }
    out
}

/// The three most probable digits, most probable first: `(digit, probability)`.
pub fn top3(probabilities: &[f64]) -> Vec<(usize, f64)> {
    let mut ranked: Vec<(usize, f64)> = probabilities.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(3);
    ranked
}

/// `counts[true][predicted]`: how often each digit was taken for each other.
pub fn confusion_matrix(labels: &[u8], predicted: &[u8]) -> [[usize; CLASSES]; CLASSES] {
    let mut counts = [[0; CLASSES]; CLASSES];
    for (&t, &p) in labels.iter().zip(predicted) {
        counts[t as usize][p as usize] += 1;
    }
    counts
}

/// The confusion matrix as a table: one row per true digit, one column per
/// predicted digit, and the recall (right / all) of each row.
pub fn confusion_table(counts: &[[usize; CLASSES]; CLASSES]) -> String {
    let mut out = String::from("true\\predicted");
    for p in 0..CLASSES {
        out += &format!("{p:>6}");
    }
    out += "   right\n";
    for (t, row) in counts.iter().enumerate() {
        out += &format!("{t:>14}");
        for n in row {
            out += &format!("{n:>6}");
        }
        let total: usize = row.iter().sum();
        out += &format!("  {:>5.1}%\n", 100.0 * row[t] as f64 / total.max(1) as f64);
    }
    out
}

// ANCHOR: mistakes
/// A test digit the network gets wrong: its index, true label, the digit
/// predicted, and the probability the network gave that prediction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mistake {
    pub index: usize,
    pub label: u8,
    pub predicted: u8,
    pub confidence: f64,
}

/// The first `n` images of `data` (in their order, none picked) that `mlp`
/// classifies wrong: what `evaluate --gallery` draws.
pub fn mistakes(mlp: &mut Mlp<f32>, data: &Dataset, n: usize) -> Vec<Mistake> {
    let predicted = mlp.predictions(data);
    let wrong: Vec<usize> = (0..data.len())
        .filter(|&i| predicted[i] != data.labels()[i])
        .take(n)
        .collect();
    wrong
        .into_iter()
        .map(|index| Mistake {
            index,
            label: data.labels()[index],
            predicted: predicted[index],
            confidence: mlp.probabilities(data, index)[predicted[index] as usize],
        })
        .collect()
}
// ANCHOR_END: mistakes

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digit_is_28_lines_of_56_characters() {
        let mut pixels = vec![0u8; 784];
        pixels[0] = 255;
        let data = Dataset::from_parts(pixels, vec![1]);
        let text = digit(&data, 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 28);
        assert!(lines.iter().all(|l| l.len() == 56));
        assert!(lines[0].starts_with("@@ "));
    }

    #[test]
    fn mistakes_are_the_first_wrong_predictions_with_their_probability() {
        // An untrained network on 300 made-up images: most are wrong.
        let pixels = (0..300 * 784).map(|i| (i * 37 % 251) as u8).collect();
        let data = Dataset::from_parts(pixels, (0..300).map(|i| (i % 10) as u8).collect());
        let mut mlp = Mlp::<f32>::new(&[784, 20, 10], crate::Init::He, 3, 1);
        let predicted = mlp.predictions(&data);
        let wrong: Vec<usize> = (0..300)
            .filter(|&i| predicted[i] != data.labels()[i])
            .collect();
        assert!(wrong.len() > 12, "{}", wrong.len());
        let found = mistakes(&mut mlp, &data, 12);
        assert_eq!(
            found.iter().map(|m| m.index).collect::<Vec<_>>(),
            wrong[..12]
        );
        for m in found {
            assert_ne!(m.label, m.predicted);
            let p = mlp.probabilities(&data, m.index);
            assert_eq!(top3(&p)[0].0, m.predicted as usize);
            assert_eq!(m.confidence, p[m.predicted as usize]);
        }
        assert_eq!(mistakes(&mut mlp, &data, 1_000_000).len(), wrong.len());
    }

    #[test]
    fn top3_ranks_by_probability() {
        let p = [0.05, 0.6, 0.0, 0.3, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(top3(&p), vec![(1, 0.6), (3, 0.3), (0, 0.05)]);
    }

    #[test]
    fn the_confusion_matrix_counts_pairs() {
        let counts = confusion_matrix(&[1, 1, 2, 7], &[1, 7, 2, 7]);
        assert_eq!(
            (counts[1][1], counts[1][7], counts[2][2], counts[7][7]),
            (1, 1, 1, 1)
        );
        assert_eq!(counts.iter().flatten().sum::<usize>(), 4);
        let table = confusion_table(&counts);
        assert_eq!(table.lines().count(), 11);
        assert!(table.lines().nth(2).unwrap().trim_end().ends_with("50.0%"));
    }
}
