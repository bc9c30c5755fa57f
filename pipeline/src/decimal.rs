//! Decimal arithmetic on published numbers: a unit conversion by a power
//! of ten moves the decimal point rather than multiplying in binary.

/// The exponent `p` when `factor` is exactly `1e{p}` (a unit conversion
/// such as percent to rate), so that [`shift_decimal`] can apply it.
pub fn power_of_ten(factor: f64) -> Option<i32> {
    (-12..=12).find(|p| format!("1e{p}").parse::<f64>() == Ok(factor))
}

/// `x * 10^places`, moving the decimal point of `x` written to 15
/// significant digits (all a double holds reliably) instead of multiplying
/// in binary: 0.7 percent becomes the rate 0.007, not 0.007000000000000001
/// (`0.7 * 0.01`), and a re-publisher's 56.89999999999999 percent (a rate
/// multiplied by 100 in binary) becomes the rate 0.569 that MHCLG publishes.
pub fn shift_decimal(x: f64, places: i32) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let text = format!("{x:.14e}");
    let shifted = text
        .split_once('e')
        .and_then(|(digits, exp)| Some(format!("{digits}e{}", exp.parse::<i32>().ok()? + places)))
        .and_then(|t| t.parse().ok());
    shifted.unwrap_or(x * 10f64.powi(places))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percent_becomes_the_rate_the_publisher_wrote() {
        let to_rate = power_of_ten(0.01).unwrap();
        assert_eq!(to_rate, -2);
        assert_eq!(power_of_ten(100.0), Some(2));
        assert_eq!(power_of_ten(0.5), None);
        assert_eq!(shift_decimal(0.7, to_rate), 0.007);
        assert_eq!(shift_decimal(2.7, to_rate), 0.027);
        assert_eq!(shift_decimal(21.6, to_rate), 0.216);
        assert_eq!(shift_decimal(60.9, to_rate), 0.609);
        assert_eq!(shift_decimal(-3.5, to_rate), -0.035);
        assert_eq!(shift_decimal(0.027, 2), 2.7);
        assert_eq!(shift_decimal(0.0, to_rate), 0.0);
        assert!(shift_decimal(f64::NAN, to_rate).is_nan());
        assert_eq!(shift_decimal(56.89999999999999, to_rate), 0.569);
        assert_eq!(shift_decimal(53.400000000000006, to_rate), 0.534);
        // Fifteen significant digits survive.
        let x = 25.774330550975712;
        assert_eq!(shift_decimal(x, to_rate), 0.257743305509757);
    }
}
