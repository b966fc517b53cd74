//! One query vector from several weighted parts (texts and images, added or subtracted).
//!
//! `q = normalise(Σ wᵢ · normalise(vᵢ))`: each part counts by its weight alone, whatever the
//! length of the vector its model gives, and the sum is brought back to unit length so that
//! scores stay cosines. A subtracted part has a negative weight.

use super::l2_normalize;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CombineError {
    #[error("a query needs at least one part")]
    Empty,
    #[error("the query's parts have {0} and {1} dimensions; they must come from models of one space")]
    Dimensions(usize, usize),
    #[error("the query's parts cancel out: their weighted sum is zero")]
    CancelOut,
}

/// The weighted sum of the normalised `parts`, normalised again.
pub fn combine(parts: &[(f32, &[f32])]) -> Result<Vec<f32>, CombineError> {
    let (_, first) = parts.first().ok_or(CombineError::Empty)?;
    let mut sum = vec![0.0f32; first.len()];
    for (weight, vector) in parts {
        if vector.len() != sum.len() {
            return Err(CombineError::Dimensions(sum.len(), vector.len()));
        }
        let mut unit = vector.to_vec();
        l2_normalize(&mut unit);
        sum.iter_mut().zip(&unit).for_each(|(total, x)| *total += weight * x);
    }
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
    // Relative to the weights: what is left of parts that (nearly) cancel is rounding noise.
    let scale = parts.iter().map(|(weight, _)| weight.abs()).sum::<f32>();
    if norm.is_nan() || norm <= 1e-6 * scale {
        return Err(CombineError::CancelOut);
    }
    sum.iter_mut().for_each(|x| *x /= norm);
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_part_is_its_own_direction() {
        assert_eq!(combine(&[(3.0, &[3.0, 4.0])]).unwrap(), vec![0.6, 0.8]);
    }

    #[test]
    fn parts_count_by_weight_not_by_length() {
        // [10, 0] and [0, 1] are unit [1, 0] and [0, 1]: weights 2 and 1 give [2, 1] / √5.
        let q = combine(&[(2.0, &[10.0, 0.0]), (1.0, &[0.0, 1.0])]).unwrap();
        let expected = [2.0 / 5f32.sqrt(), 1.0 / 5f32.sqrt()];
        assert!(q.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6), "{q:?}");
    }

    #[test]
    fn subtraction_and_its_limits() {
        let q = combine(&[(1.0, &[1.0, 0.0]), (-0.5, &[0.0, 2.0])]).unwrap();
        assert!((q[0] - 2.0 / 5f32.sqrt()).abs() < 1e-6 && (q[1] + 1.0 / 5f32.sqrt()).abs() < 1e-6, "{q:?}");
        assert_eq!(combine(&[(1.0, &[1.0, 1.0]), (-1.0, &[2.0, 2.0])]), Err(CombineError::CancelOut));
        assert_eq!(combine(&[]), Err(CombineError::Empty));
        assert_eq!(combine(&[(1.0, &[1.0]), (1.0, &[1.0, 0.0])]), Err(CombineError::Dimensions(1, 2)));
    }
}
