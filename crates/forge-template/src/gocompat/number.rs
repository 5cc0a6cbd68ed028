//! Go's float64 text and arithmetic: `strconv.FormatFloat(f, 'g', -1, 64)`, `fmt`'s `%v`, and
//! `math.Pow` (Go's own algorithm, not the platform's `pow`), and integer literals.

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`: `1e+21`, `1.234567e+06`, `0.000123`.
pub fn format_g(f: f64) -> String {
    shortest(f, 6)
}

/// Go's `fmt` `%v` of a float64: shortest digits, `%e` form only from 1e21 or below 1e-4.
pub fn format_v(f: f64) -> String {
    shortest(f, 21)
}

/// Shortest digits of `f`, in `%e` form when the exponent is below -4 or at least `eprec`.
fn shortest(f: f64, eprec: i64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        out.push('0');
        return out;
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Go's shortest mode.
    let s = format!("{:e}", f.abs());
    let (mantissa, exponent) = s.split_once('e').expect("exponent form");
    let digits: Vec<u8> = mantissa.bytes().filter(|b| *b != b'.').collect();
    let exp10: i64 = exponent.parse().expect("exponent");
    let nd = digits.len() as i64;
    let dp = exp10 + 1; // decimal point position: value = 0.digits × 10^dp
    let x = dp - 1;
    if !(-4..eprec).contains(&x) {
        out.push(digits[0] as char);
        if nd > 1 {
            out.push('.');
            out.extend(digits[1..].iter().map(|&d| d as char));
        }
        out.push('e');
        out.push(if x < 0 { '-' } else { '+' });
        let ax = x.abs();
        if ax < 10 {
            out.push('0');
        }
        out.push_str(&ax.to_string());
        return out;
    }
    let at = |i: i64| -> char {
        if i >= 0 && i < nd {
            digits[i as usize] as char
        } else {
            '0'
        }
    };
    if dp > 0 {
        for i in 0..dp {
            out.push(at(i));
        }
    } else {
        out.push('0');
    }
    let frac = (nd - dp).max(0);
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            out.push(at(dp + i));
        }
    }
    out
}

/// Go's `math.Pow`: its special cases, then `x^yf` by `exp`/`log` for the fraction of `y` and
/// repeated squaring of `frexp(x)` for the integer part. For integer exponents this is not
/// always the correctly rounded result the platform `pow` gives (`10^250` is
/// `1.0000000000000004e+250` in Go); cty's `pow` and HCL arithmetic go through it.
pub fn pow(x: f64, y: f64) -> f64 {
    let odd_int = |v: f64| v.abs() < (1u64 << 53) as f64 && v.fract() == 0.0 && (v as i64) & 1 == 1;
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        let keep_sign = x.is_sign_negative() && odd_int(y);
        return match (y < 0.0, keep_sign) {
            (true, true) => f64::NEG_INFINITY,
            (true, false) => f64::INFINITY,
            (false, true) => x,
            (false, false) => 0.0,
        };
    }
    // |y| infinite or an even integer too large for any result but 0, 1 or infinity.
    let unbounded = || {
        if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        }
    };
    if y.is_infinite() {
        return unbounded();
    }
    if x.is_infinite() {
        if x < 0.0 {
            return pow(1.0 / x, -y);
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let (mut yi, mut yf) = (y.abs().trunc(), y.abs().fract());
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= 9_223_372_036_854_775_808.0 {
        return unbounded();
    }
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = (yf * x.ln()).exp();
    }
    let (mut x1, xe) = frexp(x);
    let mut xe = i64::from(xe);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            // Far out of range either way: ldexp makes it 0 or infinity.
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// The value of an unsigned Go integer literal (as text/template reads one), lower-cased and without `_` separators:
/// `0x`/`0o`/`0b` prefixes, a leading `0` for octal, or decimal.
pub fn int_literal(lower: &str) -> Option<i64> {
    if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bn) = lower.strip_prefix("0b") {
        i64::from_str_radix(bn, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|c| c.is_ascii_digit()) && !lower.is_empty() {
        lower.parse::<i64>().ok()
    } else {
        None
    }
}

const EXP_MASK: u64 = 0x7ff << 52;

/// Go's `math.Frexp`: `f = frac × 2^exp` with `|frac|` in [0.5, 1).
fn frexp(f: f64) -> (f64, i32) {
    if f == 0.0 || !f.is_finite() {
        return (f, 0);
    }
    let (f, mut exp) = normalize(f);
    let bits = f.to_bits();
    exp += ((bits & EXP_MASK) >> 52) as i32 - 1022;
    (f64::from_bits(bits & !EXP_MASK | 1022 << 52), exp)
}

/// Go's `math.Ldexp`: `frac × 2^exp`, rounding once into the subnormal range.
fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || !frac.is_finite() {
        return frac;
    }
    let (frac, e) = normalize(frac);
    let bits = frac.to_bits();
    let exp = exp + i64::from(e) + ((bits & EXP_MASK) >> 52) as i64 - 1023;
    if exp < -1075 {
        return 0.0f64.copysign(frac);
    }
    if exp > 1023 {
        return f64::INFINITY.copysign(frac);
    }
    let (exp, m) = if exp < -1022 {
        (exp + 53, 1.0 / (1u64 << 53) as f64)
    } else {
        (exp, 1.0)
    };
    m * f64::from_bits(bits & !EXP_MASK | ((exp + 1023) as u64) << 52)
}

/// A subnormal scaled into the normal range, with the power of two it was scaled by.
fn normalize(f: f64) -> (f64, i32) {
    if f.abs() < f64::MIN_POSITIVE {
        (f * (1u64 << 52) as f64, -52)
    } else {
        (f, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_and_v_as_go() {
        for (f, g, v) in [
            (1e21, "1e+21", "1e+21"),
            (1e20, "1e+20", "100000000000000000000"),
            (123456.0, "123456", "123456"),
            (1234567.0, "1.234567e+06", "1234567"),
            (0.000123, "0.000123", "0.000123"),
            (0.0000123, "1.23e-05", "1.23e-05"),
            (1e100, "1e+100", "1e+100"),
            (1.5e-300, "1.5e-300", "1.5e-300"),
            (-0.0, "-0", "-0"),
            (5e-324, "5e-324", "5e-324"),
            (100.0, "100", "100"),
            (999999.5, "999999.5", "999999.5"),
            (0.1, "0.1", "0.1"),
            (f64::INFINITY, "+Inf", "+Inf"),
            (f64::NEG_INFINITY, "-Inf", "-Inf"),
            (f64::NAN, "NaN", "NaN"),
        ] {
            assert_eq!(format_g(f), g, "{f}");
            assert_eq!(format_v(f), v, "{f}");
        }
    }

    #[test]
    fn pow_as_go() {
        // Known math.Pow results where a platform `pow` differs: repeated squaring for an
        // integer exponent, and the `±0.5` special cases going through `Sqrt`.
        assert_eq!(pow(10.0, 250.0), 1.0000000000000004e250);
        assert_eq!(10f64.powf(250.0), 1e250);
        assert_eq!(pow(2.0, -0.5), 0.7071067811865475);
        assert_eq!(2f64.powf(-0.5), std::f64::consts::FRAC_1_SQRT_2);
        assert_eq!(pow(f64::NEG_INFINITY, 0.5), f64::INFINITY);
        for (x, y, want) in [
            (2.0, 10.0, 1024.0),
            (10.0, -2.0, 0.01),
            (9.0, 0.5, 3.0),
            (1.0, f64::NAN, 1.0),
            (f64::NAN, 0.0, 1.0),
            (-1.0, f64::INFINITY, 1.0),
            (0.5, f64::INFINITY, 0.0),
            (0.0, -1.0, f64::INFINITY),
            (-0.0, -1.0, f64::NEG_INFINITY),
            (-2.0, 3.0, -8.0),
            (2.0, 1024.0, f64::INFINITY),
            (2.0, -1074.0, 5e-324),
            (2.0, -1075.0, 0.0),
        ] {
            assert_eq!(pow(x, y), want, "{x}^{y}");
        }
        assert!(pow(-8.0, 1.0 / 3.0).is_nan());
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(frexp(5e-324), (0.5, -1073));
        assert_eq!(ldexp(0.5, -1073), 5e-324);
    }
}
