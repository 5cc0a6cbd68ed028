//! Numbers with cty's semantics. PLACEHOLDER: f64-backed until the 512-bit implementation lands.

use std::cmp::Ordering;
use std::fmt;

/// A number as cty has it.
#[derive(Clone, Debug)]
pub struct Number(f64);

impl Number {
    /// Parses a decimal literal such as `1`, `-2.5`, `1e30`.
    pub fn parse(s: &str) -> Option<Number> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| !f.is_nan())
            .map(Number)
    }
    /// From an i64.
    pub fn from_i64(i: i64) -> Number {
        Number(i as f64)
    }
    /// From an f64; `None` for NaN.
    pub fn from_f64(f: f64) -> Option<Number> {
        (!f.is_nan()).then_some(Number(f))
    }
    /// Nearest f64.
    pub fn to_f64(&self) -> f64 {
        self.0
    }
    /// The exact integer, when it is one and fits.
    pub fn to_i64(&self) -> Option<i64> {
        (self.0.fract() == 0.0
            && self.0 >= -9.223_372_036_854_776e18
            && self.0 < 9.223_372_036_854_776e18)
            .then_some(self.0 as i64)
    }
    /// Whether the value is a whole number.
    pub fn is_integer(&self) -> bool {
        self.0.is_finite() && self.0.fract() == 0.0
    }
    /// Whether the value is ±infinity.
    pub fn is_infinite(&self) -> bool {
        self.0.is_infinite()
    }
    /// Sum.
    pub fn add(&self, o: &Number) -> Number {
        Number(self.0 + o.0)
    }
    /// Difference.
    pub fn sub(&self, o: &Number) -> Number {
        Number(self.0 - o.0)
    }
    /// Product.
    pub fn mul(&self, o: &Number) -> Number {
        Number(self.0 * o.0)
    }
    /// Quotient (the caller rejects division by zero).
    pub fn div(&self, o: &Number) -> Number {
        Number(self.0 / o.0)
    }
    /// Remainder with cty's semantics.
    pub fn rem(&self, o: &Number) -> Number {
        Number(self.0 % o.0)
    }
    /// Negation.
    pub fn neg(&self) -> Number {
        Number(-self.0)
    }
    /// The largest integer not above the value (infinities stay as they are).
    pub fn floor(&self) -> Number {
        Number(self.0.floor())
    }
    /// The smallest integer not below the value (infinities stay as they are).
    pub fn ceil(&self) -> Number {
        Number(self.0.ceil())
    }
    /// Absolute value.
    pub fn abs(&self) -> Number {
        Number(self.0.abs())
    }
    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        if self.0 > 0.0 {
            1
        } else if self.0 < 0.0 {
            -1
        } else {
            0
        }
    }
    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == 0.0
    }
    /// Go's `big.Float.Int64` after truncation as Packer's old functions used it: values that do
    /// not fit (and infinities) give `i64::MIN`, as Go's float-to-int conversion does on amd64.
    pub fn to_i64_go(&self) -> i64 {
        let t = self.0.trunc();
        if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&t) {
            t as i64
        } else {
            i64::MIN
        }
    }
    /// `self` raised to `e` (as Go's `math.Pow`).
    pub fn pow(&self, e: &Number) -> Number {
        Number(self.0.powf(e.0))
    }
    /// Text as `jsonencode` writes it.
    pub fn to_json_string(&self) -> String {
        self.to_string()
    }
}

impl PartialEq for Number {
    fn eq(&self, o: &Number) -> bool {
        self.0 == o.0
    }
}
impl Eq for Number {}
impl PartialOrd for Number {
    fn partial_cmp(&self, o: &Number) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Number {
    fn cmp(&self, o: &Number) -> Ordering {
        self.0.total_cmp(&o.0)
    }
}
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_i64() {
            Some(i) => write!(f, "{i}"),
            None if self.0.is_infinite() => f.write_str(if self.0 > 0.0 { "+Inf" } else { "-Inf" }),
            None => write!(f, "{}", self.0),
        }
    }
}
