//! Numbers with cty's semantics.
//!
//! cty (the value system under HCL2 in Packer) keeps every number as a Go `*big.Float`. This
//! module reproduces that type closely enough that printed results match Packer digit for digit:
//!
//! * A finite value is `sign * mant * 2^exp` with an arbitrary-precision mantissa. Each value
//!   carries a *precision* in bits, like `big.Float`: literals parsed from source text get 512
//!   bits, values built from an `i64`/`u64` get 64, from an `f64` get 53, from a big integer
//!   `max(64, bit length)`. Arithmetic rounds to the larger precision of its operands (round to
//!   nearest, ties to even), exactly as `new(big.Float).Add(x, y)` does. The precision matters
//!   for [`Number::to_json_string`], which prints the shortest decimal that rounds back to the
//!   same value *at that precision* (Packer prints `jsonencode(pow(2, 0.5))` as
//!   `1.4142135623730951` but `jsonencode(1/3)` with 154 digits).
//! * Zero is signed (`jsonencode(-0)` prints `-0` in Packer) but `-0 == 0`.
//! * ±Infinity exists. Operations that `big.Float` rejects with an `ErrNaN` panic (∞ − ∞,
//!   0 × ∞, 0 ÷ 0, ∞ ÷ ∞) return `None` from the `checked_*` methods (Packer reports an error
//!   there); the plain methods return +0 in that case so that no NaN can ever exist.
//! * The binary exponent range is that of `big.Float` (an `int32`): results beyond it become
//!   ±Inf or ±0, like Go.

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{ToPrimitive, Zero};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// The precision (in mantissa bits) cty uses for numbers parsed from text.
pub const PARSE_PREC: u32 = 512;
/// The precision Go's `SetInt64`/`SetUint64` give a fresh `big.Float`.
pub const INT_PREC: u32 = 64;
/// The precision Go's `SetFloat64` gives a fresh `big.Float`.
pub const F64_PREC: u32 = 53;

/// `big.Float`'s exponent limits (for the `0.1xxx × 2^exp` form).
const MAX_EXP: i64 = i32::MAX as i64;
const MIN_EXP: i64 = i32::MIN as i64;

#[derive(Clone, Debug)]
enum Form {
    Zero,
    /// `mant * 2^exp`; `mant` is odd (so the representation is canonical).
    Finite {
        mant: BigUint,
        exp: i64,
    },
    Inf,
}

/// A number as cty has it: a `big.Float` with its precision, signed zero and infinities.
#[derive(Clone, Debug)]
pub struct Number {
    neg: bool,
    form: Form,
    prec: u32,
}

/// Rounds `mant * 2^exp` (plus a tiny positive amount when `sticky`) to `prec` bits, nearest
/// even. When `sticky` is set the mantissa must have more than `prec + 1` bits.
fn round_to(neg: bool, mut m: BigUint, mut e: i64, sticky: bool, prec: u32) -> Number {
    if m.is_zero() {
        return Number::zero_with(neg, prec);
    }
    let prec = prec.max(1);
    let b = m.bits();
    if b > u64::from(prec) {
        let shift = b - u64::from(prec);
        let half = m.bit(shift - 1);
        let rest = sticky || m.trailing_zeros().unwrap_or(0) < shift - 1;
        m >>= shift;
        e += shift as i64;
        if half && (rest || m.bit(0)) {
            m += 1u32;
        }
    } else {
        debug_assert!(!sticky, "sticky rounding needs extra mantissa bits");
    }
    finite(neg, m, e, prec)
}

/// Builds a finite value from an exactly representable mantissa, normalising it to be odd and
/// applying `big.Float`'s exponent range.
fn finite(neg: bool, mut m: BigUint, mut e: i64, prec: u32) -> Number {
    if m.is_zero() {
        return Number::zero_with(neg, prec);
    }
    let tz = m.trailing_zeros().unwrap_or(0);
    if tz > 0 {
        m >>= tz;
        e += tz as i64;
    }
    let go_exp = e + m.bits() as i64;
    if go_exp > MAX_EXP {
        return Number::inf_with(neg, prec);
    }
    if go_exp < MIN_EXP {
        return Number::zero_with(neg, prec);
    }
    Number {
        neg,
        form: Form::Finite { mant: m, exp: e },
        prec,
    }
}

/// A decimal as Go's `math/big` formats it: `0.mant × 10^exp`, no trailing zeros in `mant`.
struct Decimal {
    mant: Vec<u8>,
    exp: i64,
}

impl Decimal {
    /// The exact decimal value of `m × 2^shift`.
    fn new(m: &BigUint, shift: i64) -> Decimal {
        if m.is_zero() {
            return Decimal {
                mant: Vec::new(),
                exp: 0,
            };
        }
        let (digits, k) = if shift >= 0 {
            ((m << (shift as u64)).to_str_radix(10), 0i64)
        } else {
            let k = -shift;
            let p = BigUint::from(5u32).pow(k as u32);
            ((m * p).to_str_radix(10), k)
        };
        let mut mant = digits.into_bytes();
        let exp = mant.len() as i64 - k;
        while mant.last() == Some(&b'0') {
            mant.pop();
        }
        Decimal { mant, exp }
    }

    fn at(&self, i: i64) -> u8 {
        if i >= 0 && (i as usize) < self.mant.len() {
            self.mant[i as usize]
        } else {
            b'0'
        }
    }

    fn trim(&mut self) {
        while self.mant.last() == Some(&b'0') {
            self.mant.pop();
        }
        if self.mant.is_empty() {
            self.exp = 0;
        }
    }

    fn round_down(&mut self, n: usize) {
        if n >= self.mant.len() {
            return;
        }
        self.mant.truncate(n);
        self.trim();
    }

    fn round_up(&mut self, n: usize) {
        if n >= self.mant.len() {
            return;
        }
        let mut n = n;
        while n > 0 && self.mant[n - 1] >= b'9' {
            n -= 1;
        }
        if n == 0 {
            self.mant.clear();
            self.mant.push(b'1');
            self.exp += 1;
        } else {
            self.mant[n - 1] += 1;
            self.mant.truncate(n);
        }
    }

    fn round(&mut self, n: usize) {
        if n >= self.mant.len() {
            return;
        }
        let up = if self.mant[n] == b'5' && n + 1 == self.mant.len() {
            n > 0 && (self.mant[n - 1] - b'0') & 1 != 0
        } else {
            self.mant[n] >= b'5'
        };
        if up {
            self.round_up(n);
        } else {
            self.round_down(n);
        }
    }
}

/// Go's `int64(f)` conversion as compiled for amd64 (`CVTTSD2SQ`): truncation toward zero, and
/// the "integer indefinite" value `math.MinInt64` for NaN or anything out of range.
fn go_f64_to_i64(f: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// `5^n` as Go's `big.Float.pow5` computes it for a 512-bit parse: exact up to 5^27, beyond
/// that by repeated squaring with 640-bit intermediates and a 576-bit accumulator.
fn go_pow5(n: u64) -> Number {
    const POW_PREC: u32 = PARSE_PREC + 64;
    if n <= 27 {
        return Number::from_biguint(BigUint::from(5u32).pow(n as u32), POW_PREC);
    }
    let mut z = Number::from_biguint(BigUint::from(5u32).pow(27), POW_PREC);
    let mut f = Number::from_biguint(BigUint::from(5u32), POW_PREC + 64);
    let mut n = n - 27;
    while n > 0 {
        if n & 1 != 0 {
            z = z
                .mul_p(&f, POW_PREC)
                .unwrap_or_else(|| Number::inf_with(false, POW_PREC));
        }
        n >>= 1;
        if n > 0 {
            f = f
                .mul_p(&f, POW_PREC + 64)
                .unwrap_or_else(|| Number::inf_with(false, POW_PREC + 64));
        }
    }
    z
}

impl Number {
    fn zero_with(neg: bool, prec: u32) -> Number {
        Number {
            neg,
            form: Form::Zero,
            prec,
        }
    }

    fn inf_with(neg: bool, prec: u32) -> Number {
        Number {
            neg,
            form: Form::Inf,
            prec,
        }
    }

    fn from_biguint(m: BigUint, prec: u32) -> Number {
        finite(false, m, 0, prec)
    }

    /// Positive infinity (precision 64, like Go's `SetInf`).
    pub fn infinity(negative: bool) -> Number {
        Number::inf_with(negative, INT_PREC)
    }

    /// Parses a decimal literal such as `1`, `-2.5`, `1e30`, `.5`, `+3` the way
    /// `big.ParseFloat(s, 10, 512, big.ToNearestEven)` does (leading/trailing ASCII whitespace is
    /// ignored). `None` for anything else, including `inf` and `nan`.
    ///
    /// The value is rounded once to 512 bits, except that — like Go — a decimal exponent
    /// (including the count of fraction digits) beyond ±248 goes through Go's approximate
    /// power-of-five computation, which is reproduced exactly.
    pub fn parse(s: &str) -> Option<Number> {
        let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
        let b = s.as_bytes();
        let mut i = 0;
        let mut neg = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            neg = b[i] == b'-';
            i += 1;
        }
        let mut digits = Vec::new();
        let mut frac_digits: i64 = 0;
        let mut seen_dot = false;
        while i < b.len() {
            match b[i] {
                b'0'..=b'9' => {
                    digits.push(b[i]);
                    if seen_dot {
                        frac_digits += 1;
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => break,
            }
            i += 1;
        }
        if digits.is_empty() {
            return None;
        }
        let mut exp10: i64 = 0;
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            let mut eneg = false;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                eneg = b[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                exp10 = exp10.checked_mul(10)?.checked_add(i64::from(b[i] - b'0'))?;
                i += 1;
            }
            if i == start {
                return None;
            }
            if eneg {
                exp10 = -exp10;
            }
        }
        if i != b.len() {
            return None;
        }
        let mant = BigUint::parse_bytes(&digits, 10)?;
        if mant.is_zero() {
            return Some(Number::zero_with(neg, PARSE_PREC));
        }
        let exp5 = exp10.checked_sub(frac_digits)?;
        // Go rejects a binary exponent outside the int32 range before scaling.
        let exp2 = (mant.bits() as i64).checked_add(exp5)?;
        if !(MIN_EXP..=MAX_EXP).contains(&exp2) {
            return None;
        }
        if exp5 == 0 {
            return Some(round_to(neg, mant, 0, false, PARSE_PREC));
        }
        // value = mant × 2^exp5 × 5^exp5; Go keeps the full mantissa and then multiplies or
        // divides by its (possibly rounded) power of five, rounding once to 512 bits.
        // Unrounded: Go keeps every digit of the mantissa until the scaling step.
        let z = finite(neg, mant, exp5, u32::MAX);
        let p = go_pow5(exp5.unsigned_abs());
        let r = if exp5 > 0 {
            z.mul_p(&p, PARSE_PREC)?
        } else {
            z.div_p(&p, PARSE_PREC)?
        };
        Some(r)
    }

    /// From an i64 (precision 64, like cty's `NumberIntVal`).
    pub fn from_i64(i: i64) -> Number {
        finite(i < 0, BigUint::from(i.unsigned_abs()), 0, INT_PREC)
    }

    /// From a u64 (precision 64, like cty's `NumberUIntVal`).
    pub fn from_u64(u: u64) -> Number {
        finite(false, BigUint::from(u), 0, INT_PREC)
    }

    /// From a big integer, exactly (precision `max(64, bit length)`, like `SetInt`).
    pub fn from_bigint(i: &BigInt) -> Number {
        let (sign, mag) = i.clone().into_parts();
        let prec = (mag.bits().min(u64::from(u32::MAX)) as u32).max(INT_PREC);
        finite(sign == Sign::Minus, mag, 0, prec)
    }

    /// From an f64 (precision 53, like cty's `NumberFloatVal`); `None` for NaN. Infinities and
    /// negative zero are kept.
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        let neg = f.is_sign_negative();
        if f.is_infinite() {
            return Some(Number::inf_with(neg, F64_PREC));
        }
        if f == 0.0 {
            return Some(Number::zero_with(neg, F64_PREC));
        }
        let bits = f.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, e) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), biased - 1075)
        };
        Some(finite(neg, BigUint::from(m), e, F64_PREC))
    }

    /// The precision of this value in mantissa bits.
    pub fn prec(&self) -> u32 {
        self.prec
    }

    /// The same value with a different precision, rounding if needed (Go's `SetPrec`).
    pub fn with_prec(&self, prec: u32) -> Number {
        let prec = prec.max(1);
        match &self.form {
            Form::Finite { mant, exp } => round_to(self.neg, mant.clone(), *exp, false, prec),
            _ => Number {
                prec,
                ..self.clone()
            },
        }
    }

    /// Nearest f64 (round to nearest even; overflow gives ±Inf, underflow ±0), like
    /// `big.Float.Float64`.
    pub fn to_f64(&self) -> f64 {
        let sign = if self.neg { -1.0 } else { 1.0 };
        let (m, e) = match &self.form {
            Form::Zero => return sign * 0.0,
            Form::Inf => return sign * f64::INFINITY,
            Form::Finite { mant, exp } => (mant, *exp),
        };
        let b = m.bits() as i64;
        let top = e + b - 1; // value in [2^top, 2^(top+1))
        if top > 1023 {
            return sign * f64::INFINITY;
        }
        if top < -1076 {
            return sign * 0.0;
        }
        // Exponent of the lowest mantissa bit an f64 can hold at this magnitude.
        let lsb = (top - 52).max(-1074);
        let q: u64 = if e >= lsb {
            (m << ((e - lsb) as u64)).to_u64().expect("fits 53 bits")
        } else {
            let shift = (lsb - e) as u64;
            let half = m.bit(shift - 1);
            let rest = m.trailing_zeros().unwrap_or(0) < shift - 1;
            let mut q = (m >> shift).to_u64().unwrap_or(0);
            if half && (rest || q & 1 == 1) {
                q += 1;
            }
            q
        };
        if q == 0 {
            return sign * 0.0;
        }
        let qbits = 64 - i64::from(q.leading_zeros());
        if lsb + qbits - 1 > 1023 {
            return sign * f64::INFINITY;
        }
        // q < 2^54 and 2^lsb is representable, so the product is exact.
        let scale = if lsb >= -1022 {
            f64::from_bits(((lsb + 1023) as u64) << 52)
        } else {
            f64::from_bits(1u64 << (lsb + 1074))
        };
        sign * (q as f64) * scale
    }

    /// The exact integer, when the value is one and fits in an i64.
    pub fn to_i64(&self) -> Option<i64> {
        match &self.form {
            Form::Zero => Some(0),
            Form::Inf => None,
            Form::Finite { mant, exp } => {
                if *exp < 0 || *exp + mant.bits() as i64 > 64 {
                    return None;
                }
                self.to_bigint()?.to_i64()
            }
        }
    }

    /// Go's `int64(x)` for the value converted to float64, as compiled for amd64: truncation
    /// toward zero, and `math.MinInt64` for anything outside the int64 range or infinite.
    ///
    /// This is what Packer's `floor`/`ceil` do (`int64(math.Floor(f))`), which is why it prints
    /// `floor(1e30)` as `-9223372036854775808` (and not `big.Float.Int64`'s saturation to
    /// `MaxInt64`; see [`Number::to_i64_saturating`] for that).
    pub fn to_i64_go(&self) -> i64 {
        go_f64_to_i64(self.to_f64().trunc())
    }

    /// Go's `big.Float.Int64()`: truncation toward zero, saturating to `i64::MIN`/`i64::MAX`
    /// out of range (and for infinities).
    pub fn to_i64_saturating(&self) -> i64 {
        match &self.form {
            Form::Zero => 0,
            Form::Inf => {
                if self.neg {
                    i64::MIN
                } else {
                    i64::MAX
                }
            }
            Form::Finite { .. } => {
                let t = self.trunc_bigint();
                t.to_i64()
                    .unwrap_or(if self.neg { i64::MIN } else { i64::MAX })
            }
        }
    }

    /// The exact integer, when the value is a (finite) whole number.
    pub fn to_bigint(&self) -> Option<BigInt> {
        if !self.is_integer() {
            return None;
        }
        Some(self.trunc_bigint())
    }

    /// Truncation toward zero as a big integer (0 for infinities, like Go's `Float.Int` leaving
    /// its argument untouched).
    fn trunc_bigint(&self) -> BigInt {
        match &self.form {
            Form::Zero | Form::Inf => BigInt::zero(),
            Form::Finite { mant, exp } => {
                let mag = if *exp >= 0 {
                    mant << (*exp as u64)
                } else {
                    mant >> ((-*exp) as u64)
                };
                let sign = if self.neg { Sign::Minus } else { Sign::Plus };
                BigInt::from_biguint(sign, mag)
            }
        }
    }

    /// Whether the value is a finite whole number.
    pub fn is_integer(&self) -> bool {
        match &self.form {
            Form::Zero => true,
            Form::Inf => false,
            Form::Finite { exp, .. } => *exp >= 0,
        }
    }

    /// Whether the value is ±infinity.
    pub fn is_infinite(&self) -> bool {
        matches!(self.form, Form::Inf)
    }

    /// Whether the value is finite.
    pub fn is_finite(&self) -> bool {
        !self.is_infinite()
    }

    /// Whether the value is ±0.
    pub fn is_zero(&self) -> bool {
        matches!(self.form, Form::Zero)
    }

    /// Whether the sign bit is set (true for -0 and -Inf too).
    pub fn is_sign_negative(&self) -> bool {
        self.neg
    }

    /// -1, 0 or 1 (0 for both zeros).
    pub fn signum(&self) -> i32 {
        match self.form {
            Form::Zero => 0,
            _ if self.neg => -1,
            _ => 1,
        }
    }

    /// Absolute value (clears the sign of zero too, like Go's `Abs`).
    pub fn abs(&self) -> Number {
        Number {
            neg: false,
            ..self.clone()
        }
    }

    /// Negation (flips the sign of zero too, like Go's `Neg`).
    pub fn neg(&self) -> Number {
        Number {
            neg: !self.neg,
            ..self.clone()
        }
    }

    /// The largest integer not above the value, exactly. Infinities are returned unchanged;
    /// the sign of a zero result follows the operand (`floor(0.5)` is +0).
    pub fn floor(&self) -> Number {
        self.round_integral(true)
    }

    /// The smallest integer not below the value, exactly. Infinities are returned unchanged;
    /// the sign of a zero result follows the operand (`ceil(-0.5)` is -0, like `math.Ceil`).
    pub fn ceil(&self) -> Number {
        self.round_integral(false)
    }

    fn round_integral(&self, down: bool) -> Number {
        match &self.form {
            Form::Finite { mant, exp } if *exp < 0 => {
                // The fraction is non-zero because the mantissa is odd.
                let int = mant >> ((-*exp) as u64);
                let away = down == self.neg;
                let int = if away { int + 1u32 } else { int };
                round_to(self.neg, int, 0, false, self.prec)
            }
            _ => self.clone(),
        }
    }

    /// Packer's `floor()` function: infinities unchanged, otherwise
    /// `NumberIntVal(int64(math.Floor(float64)))` (so `floor(1e30)` is `math.MinInt64`).
    pub fn go_floor(&self) -> Number {
        if self.is_infinite() {
            return self.clone();
        }
        Number::from_i64(go_f64_to_i64(self.to_f64().floor()))
    }

    /// Packer's `ceil()` function: infinities unchanged, otherwise
    /// `NumberIntVal(int64(math.Ceil(float64)))`.
    pub fn go_ceil(&self) -> Number {
        if self.is_infinite() {
            return self.clone();
        }
        Number::from_i64(go_f64_to_i64(self.to_f64().ceil()))
    }

    /// Sum, rounded to the larger operand precision. ∞ + (−∞) gives +0 (see
    /// [`Number::checked_add`]).
    pub fn add(&self, o: &Number) -> Number {
        self.checked_add(o).unwrap_or_else(|| self.nan_zero(o))
    }

    /// Difference. ∞ − ∞ gives +0 (see [`Number::checked_sub`]).
    pub fn sub(&self, o: &Number) -> Number {
        self.checked_sub(o).unwrap_or_else(|| self.nan_zero(o))
    }

    /// Product. 0 × ∞ gives +0 (see [`Number::checked_mul`]).
    pub fn mul(&self, o: &Number) -> Number {
        self.checked_mul(o).unwrap_or_else(|| self.nan_zero(o))
    }

    /// Quotient. x ÷ 0 is ±∞ for x ≠ 0; 0 ÷ 0 and ∞ ÷ ∞ give +0 (see
    /// [`Number::checked_div`]).
    pub fn div(&self, o: &Number) -> Number {
        self.checked_div(o).unwrap_or_else(|| self.nan_zero(o))
    }

    /// cty's `Modulo` (see [`Number::checked_rem`]); NaN cases give +0.
    pub fn rem(&self, o: &Number) -> Number {
        self.checked_rem(o).unwrap_or_else(|| self.nan_zero(o))
    }

    fn nan_zero(&self, o: &Number) -> Number {
        Number::zero_with(false, self.prec.max(o.prec))
    }

    /// Sum; `None` for ∞ + (−∞) (Packer: "can't compute sum of opposing infinities").
    pub fn checked_add(&self, o: &Number) -> Option<Number> {
        self.add_p(o, o.neg, self.prec.max(o.prec))
    }

    /// Difference; `None` for ∞ − ∞ (Packer: "can't subtract infinity from itself").
    pub fn checked_sub(&self, o: &Number) -> Option<Number> {
        self.add_p(o, !o.neg, self.prec.max(o.prec))
    }

    /// Product; `None` for 0 × ∞ (Packer: "can't multiply zero by infinity").
    pub fn checked_mul(&self, o: &Number) -> Option<Number> {
        self.mul_p(o, self.prec.max(o.prec))
    }

    /// Quotient; `None` for 0 ÷ 0 and ∞ ÷ ∞ (Packer: "can't divide zero by zero or infinity by
    /// infinity").
    pub fn checked_div(&self, o: &Number) -> Option<Number> {
        self.div_p(o, self.prec.max(o.prec))
    }

    /// cty's `Modulo`, step for step: `x % 0` is `x`; otherwise `t = trunc(x / y)` (0 when the
    /// quotient is infinite) and the result is `x - y * t` with both steps rounded to
    /// `max(64, bits(t))` bits, the precision Go gives the `big.Float` made from `t`. So the
    /// sign follows the dividend (`-5 % 3 == -2`), `5.5 % 2 == 1.5`, `∞ % 3 == ∞`, and
    /// `jsonencode(0.1 % 0.03)` shows 64-bit precision just as in Packer. `None` where Go
    /// panics with `ErrNaN` (`3 % ∞`, `∞ % ∞`).
    pub fn checked_rem(&self, o: &Number) -> Option<Number> {
        if o.is_zero() {
            return Some(self.clone());
        }
        let rat = self.checked_div(o)?;
        let t = rat.trunc_bigint();
        let work = Number::from_bigint(&t);
        let wprec = work.prec;
        let work = o.mul_p(&work, wprec)?;
        self.add_p(&work, !work.neg, wprec)
    }

    /// `self + (±|o|)` where `o_neg` is the sign to use for `o`, rounded to `prec`.
    fn add_p(&self, o: &Number, o_neg: bool, prec: u32) -> Option<Number> {
        match (&self.form, &o.form) {
            (Form::Inf, Form::Inf) => {
                if self.neg != o_neg {
                    None
                } else {
                    Some(Number::inf_with(self.neg, prec))
                }
            }
            (Form::Inf, _) => Some(Number::inf_with(self.neg, prec)),
            (_, Form::Inf) => Some(Number::inf_with(o_neg, prec)),
            (Form::Zero, Form::Zero) => Some(Number::zero_with(self.neg && o_neg, prec)),
            (Form::Zero, Form::Finite { mant, exp }) => {
                Some(round_to(o_neg, mant.clone(), *exp, false, prec))
            }
            (Form::Finite { mant, exp }, Form::Zero) => {
                Some(round_to(self.neg, mant.clone(), *exp, false, prec))
            }
            (Form::Finite { mant: xm, exp: xe }, Form::Finite { mant: ym, exp: ye }) => {
                let p = i64::from(prec);
                let xtop = xe + xm.bits() as i64;
                let ytop = ye + ym.bits() as i64;
                // An operand below half an ulp of the other (even in the binade below) cannot
                // change the rounded result; skip the huge shift that aligning would need.
                if ytop < (*xe).min(xtop - p - 2) {
                    return Some(round_to(self.neg, xm.clone(), *xe, false, prec));
                }
                if xtop < (*ye).min(ytop - p - 2) {
                    return Some(round_to(o_neg, ym.clone(), *ye, false, prec));
                }
                let e = (*xe).min(*ye);
                let a = xm << ((xe - e) as u64);
                let b = ym << ((ye - e) as u64);
                if self.neg == o_neg {
                    return Some(round_to(self.neg, a + b, e, false, prec));
                }
                Some(match a.cmp(&b) {
                    Ordering::Greater => round_to(self.neg, a - b, e, false, prec),
                    Ordering::Less => round_to(o_neg, b - a, e, false, prec),
                    Ordering::Equal => Number::zero_with(false, prec),
                })
            }
        }
    }

    fn mul_p(&self, o: &Number, prec: u32) -> Option<Number> {
        let neg = self.neg != o.neg;
        match (&self.form, &o.form) {
            (Form::Inf, Form::Zero) | (Form::Zero, Form::Inf) => None,
            (Form::Inf, _) | (_, Form::Inf) => Some(Number::inf_with(neg, prec)),
            (Form::Zero, _) | (_, Form::Zero) => Some(Number::zero_with(neg, prec)),
            (Form::Finite { mant: xm, exp: xe }, Form::Finite { mant: ym, exp: ye }) => {
                Some(round_to(neg, xm * ym, xe + ye, false, prec))
            }
        }
    }

    fn div_p(&self, o: &Number, prec: u32) -> Option<Number> {
        let neg = self.neg != o.neg;
        match (&self.form, &o.form) {
            (Form::Zero, Form::Zero) | (Form::Inf, Form::Inf) => None,
            (Form::Inf, _) => Some(Number::inf_with(neg, prec)),
            (_, Form::Inf) => Some(Number::zero_with(neg, prec)),
            (_, Form::Zero) => Some(Number::inf_with(neg, prec)),
            (Form::Zero, _) => Some(Number::zero_with(neg, prec)),
            (Form::Finite { mant: xm, exp: xe }, Form::Finite { mant: ym, exp: ye }) => {
                let want = i64::from(prec.max(1)) + 2 + ym.bits() as i64 - xm.bits() as i64;
                let shift = want.max(0);
                let (q, r) = (xm << (shift as u64)).div_rem(ym);
                Some(round_to(neg, q, xe - ye - shift, !r.is_zero(), prec))
            }
        }
    }

    /// cty's `pow`: both operands converted to float64 and combined with Go's `math.Pow`; the
    /// result has precision 53. A NaN result (negative base, fractional exponent) gives +0;
    /// see [`Number::checked_pow`].
    pub fn pow(&self, o: &Number) -> Number {
        self.checked_pow(o)
            .unwrap_or_else(|| Number::zero_with(false, F64_PREC))
    }

    /// [`Number::pow`], with `None` where Go's `math.Pow` returns NaN (Packer then fails with
    /// a `Float.SetFloat64(NaN)` panic).
    pub fn checked_pow(&self, o: &Number) -> Option<Number> {
        Number::from_f64(crate::gocompat::number::pow(self.to_f64(), o.to_f64()))
    }

    /// Text as `jsonencode` and cty's own number formatting write it: Go's
    /// `big.Float.Text('f', -1)`, the shortest decimal that rounds back to this value at its
    /// precision, without exponent. `-0` prints as `-0`; infinities as `+Inf`/`-Inf` (callers
    /// that must reject them check [`Number::is_infinite`] first).
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        let (m, e) = match &self.form {
            Form::Inf => {
                if !self.neg {
                    out.push('+');
                }
                out.push_str("Inf");
                return out;
            }
            Form::Zero => {
                out.push('0');
                return out;
            }
            Form::Finite { mant, exp } => (mant, *exp),
        };
        let mut d = Decimal::new(m, e);
        self.round_shortest(&mut d, m, e);
        // %f with just enough fraction digits.
        let frac = (d.mant.len() as i64 - d.exp).max(0);
        if d.exp > 0 {
            for i in 0..d.exp {
                out.push(d.at(i) as char);
            }
        } else {
            out.push('0');
        }
        if frac > 0 {
            out.push('.');
            for i in 0..frac {
                out.push(d.at(d.exp + i) as char);
            }
        }
        out
    }

    /// Go's `roundShortest`: shortens `d` (the exact value `m × 2^e`) to the fewest digits that
    /// still lie within half an ulp (at this value's precision) on either side.
    fn round_shortest(&self, d: &mut Decimal, m: &BigUint, e: i64) {
        if d.mant.is_empty() {
            return;
        }
        // Scale the mantissa to prec+1 bits so its lsb is half an ulp.
        let s = m.bits() as i64 - (i64::from(self.prec) + 1);
        let (mant, exp) = if s < 0 {
            (m << ((-s) as u64), e + s)
        } else {
            (m >> (s as u64), e + s)
        };
        let lower = Decimal::new(&(&mant - 1u32), exp);
        let upper = Decimal::new(&(&mant + 1u32), exp);
        let inclusive = !mant.bit(1);
        for i in 0..d.mant.len() {
            let m = d.mant[i];
            let l = lower.at(i as i64);
            let u = upper.at(i as i64);
            let okdown = l != m || (inclusive && i + 1 == lower.mant.len());
            let okup = m != u && (inclusive || m + 1 < u || i + 1 < upper.mant.len());
            match (okdown, okup) {
                (true, true) => {
                    d.round(i + 1);
                    return;
                }
                (true, false) => {
                    d.round_down(i + 1);
                    return;
                }
                (false, true) => {
                    d.round_up(i + 1);
                    return;
                }
                (false, false) => {}
            }
        }
    }

    /// Rank for ordering: -Inf, negative, zero, positive, +Inf.
    fn class(&self) -> u8 {
        match (&self.form, self.neg) {
            (Form::Inf, true) => 0,
            (Form::Finite { .. }, true) => 1,
            (Form::Zero, _) => 2,
            (Form::Finite { .. }, false) => 3,
            (Form::Inf, false) => 4,
        }
    }
}

/// Compares two finite magnitudes `am × 2^ae` and `bm × 2^be`.
fn cmp_mag(am: &BigUint, ae: i64, bm: &BigUint, be: i64) -> Ordering {
    let atop = ae + am.bits() as i64;
    let btop = be + bm.bits() as i64;
    if atop != btop {
        return atop.cmp(&btop);
    }
    let e = ae.min(be);
    let a = am << ((ae - e) as u64);
    let b = bm << ((be - e) as u64);
    a.cmp(&b)
}

impl From<i64> for Number {
    fn from(i: i64) -> Number {
        Number::from_i64(i)
    }
}

impl PartialEq for Number {
    fn eq(&self, o: &Number) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Number {}
impl PartialOrd for Number {
    fn partial_cmp(&self, o: &Number) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Number {
    /// Numeric order: -Inf < finite < +Inf; -0 == 0; precision is ignored.
    fn cmp(&self, o: &Number) -> Ordering {
        let (ca, cb) = (self.class(), o.class());
        if ca != cb {
            return ca.cmp(&cb);
        }
        match (&self.form, &o.form) {
            (Form::Finite { mant: am, exp: ae }, Form::Finite { mant: bm, exp: be }) => {
                let c = cmp_mag(am, *ae, bm, *be);
                if self.neg {
                    c.reverse()
                } else {
                    c
                }
            }
            _ => Ordering::Equal,
        }
    }
}
impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let class = self.class();
        class.hash(state);
        if let Form::Finite { mant, exp } = &self.form {
            // Canonical: the mantissa is odd, and precision does not take part in equality.
            mant.hash(state);
            exp.hash(state);
        }
    }
}

impl fmt::Display for Number {
    /// How Packer's console and HCL string interpolation print a number: exact decimal for an
    /// integer that fits in an i64, otherwise Go's `strconv.FormatFloat(f, 'g', -1, 64)` of the
    /// nearest f64 (`+Inf`/`-Inf` for infinities and for values beyond the f64 range).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.to_i64() {
            return write!(f, "{i}");
        }
        f.write_str(&crate::gocompat::number::format_g(self.to_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|| panic!("parse {s:?}"))
    }

    fn hash_of(x: &Number) -> u64 {
        let mut h = DefaultHasher::new();
        x.hash(&mut h);
        h.finish()
    }

    fn eval(a: &str, op: char, b: &str) -> Number {
        let (a, b) = (n(a), n(b));
        match op {
            '+' => a.add(&b),
            '-' => a.sub(&b),
            '*' => a.mul(&b),
            '/' => a.div(&b),
            '%' => a.rem(&b),
            _ => unreachable!(),
        }
    }

    fn inf() -> Number {
        n("1").div(&n("0"))
    }

    #[test]
    fn display_matches_packer_console() {
        let cases = [
            (eval("1", '/', "3"), "0.3333333333333333"),
            (n("9007199254740993"), "9007199254740993"),
            (n("1e30"), "1e+30"),
            (n("2.5e-7"), "2.5e-07"),
            (eval("0.1", '+', "0.2"), "0.3"),
            (n("1234567.5"), "1.2345675e+06"),
            (n("1e15"), "1000000000000000"),
            (n("0.00001"), "1e-05"),
            (n("0.0001"), "0.0001"),
            (n("123456.5"), "123456.5"),
            (n("9223372036854775807"), "9223372036854775807"),
            (n("9223372036854775808"), "9.223372036854776e+18"),
            (n("-9223372036854775809"), "-9.223372036854776e+18"),
            (eval("1e300", '*', "1e300"), "+Inf"),
            (n("10000000000000000000000000000001"), "1e+31"),
            (
                eval(
                    "10000000000000000000000000000001",
                    '-',
                    "10000000000000000000000000000000",
                ),
                "1",
            ),
            (n("0").neg(), "0"),
            (n("-0"), "0"),
            (n("1.5"), "1.5"),
            (n("1e20"), "1e+20"),
            (n("1e19"), "1e+19"),
            (n("123456789012345678901"), "1.2345678901234568e+20"),
            (n("100000000000000000000.5"), "1e+20"),
            (eval("5", '%', "3"), "2"),
            (eval("-5", '%', "3"), "-2"),
            (eval("5.5", '%', "2"), "1.5"),
            (eval("-5", '%', "-3"), "-2"),
            (eval("5", '%', "-3"), "2"),
            (eval("-5.5", '%', "2"), "-1.5"),
            (eval("0.1", '%', "0.03"), "0.01"),
            (eval("5", '%', "0"), "5"),
            (inf(), "+Inf"),
            (inf().neg(), "-Inf"),
            (n("1e-400"), "0"),
            (n("-1e-400"), "-0"),
            (eval("1", '-', "2"), "-1"),
        ];
        for (x, want) in cases {
            assert_eq!(x.to_string(), want, "{x:?}");
        }
    }

    #[test]
    fn json_matches_packer_jsonencode() {
        let third = "0.33333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333335";
        let two_thirds = "0.6666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666666667";
        let cases = [
            (eval("1", '/', "3"), third),
            (eval("2", '/', "3"), two_thirds),
            (n("0.1"), "0.1"),
            (n("1e20"), "100000000000000000000"),
            (eval("0.1", '*', "3"), "0.3"),
            (
                n("10000000000000000000000000000001"),
                "10000000000000000000000000000001",
            ),
            (n("1.5"), "1.5"),
            (n("1.0"), "1"),
            (n("-0"), "-0"),
            (eval("0", '-', "0"), "0"),
            (n("-0").add(&n("0")), "0"),
            (n("-0").mul(&n("5")), "-0"),
            (eval("-5", '%', "5"), "0"),
            (eval("5", '%', "-5"), "0"),
            (n("2.5e-7"), "0.00000025"),
            (n("1e-7"), "0.0000001"),
            (n("1e-5"), "0.00001"),
            (eval("1", '/', "3").mul(&n("3")), "1"),
            (
                n("123456789012345678901234567890.5"),
                "123456789012345678901234567890.5",
            ),
            (eval("0.1", '%', "0.03"), "0.009999999999999999996"),
            (eval("0.1", '%', "0.03").neg(), "-0.009999999999999999996"),
            (
                eval("0.1", '%', "0.03").add(&eval("0.1", '%', "0.03")),
                "0.019999999999999999993",
            ),
            (
                eval("0.1", '%', "0.03").mul(&n("3")),
                "0.029999999999999999989225740910925299687050937791354954242706298828125",
            ),
            (eval("1e30", '%', "7"), "0"),
            (eval("7", '%', "1e30"), "7"),
            (eval("10000000000000000000000000000001", '%', "3"), "1"),
            (eval("1e40", '%', "3"), "0"),
            (
                eval("1e300", '*', "1e300"),
                &format!("1{}", "0".repeat(600)),
            ),
            (n("1e1000"), &format!("1{}", "0".repeat(1000))),
            (n("1e-400"), &format!("0.{}1", "0".repeat(399))),
            (
                n("1e-400").mul(&n("-1")),
                &format!("-0.{}1", "0".repeat(399)),
            ),
            (
                eval("1e300", '*', "1e300").sub(&eval("1e300", '*', "1e300")),
                "0",
            ),
            (n("0.1").add(&Number::from_i64(1)), "1.1"),
        ];
        for (x, want) in cases {
            assert_eq!(x.to_json_string(), want, "{x:?}");
        }
    }

    #[test]
    fn json_respects_precision() {
        // pow goes through float64, so the result has 53 bits.
        let r = n("2").pow(&n("0.5"));
        assert_eq!(r.to_json_string(), "1.4142135623730951");
        assert_eq!(r.to_string(), "1.4142135623730951");
        assert_eq!(r.add(&r).to_json_string(), "2.8284271247461903");
        // Mixed with a 512-bit literal the exact binary value shows.
        assert_eq!(
            r.mul(&n("1")).to_json_string(),
            "1.4142135623730951454746218587388284504413604736328125"
        );
        // Two 64-bit integers (length(), floor()) divide at 64 bits.
        let (one, three) = (Number::from_i64(1), Number::from_i64(3));
        assert_eq!(one.div(&three).to_json_string(), "0.33333333333333333334");
        assert_eq!(
            Number::from_i64(2).div(&three).to_json_string(),
            "0.6666666666666666667"
        );
        assert_eq!(one.div(&n("3")).to_json_string().len(), 157);
        assert_eq!(Number::from_f64(0.1).unwrap().to_json_string(), "0.1");
        assert_eq!(n("0.1").prec(), 512);
        assert_eq!(Number::from_i64(7).prec(), 64);
        assert_eq!(Number::from_f64(7.0).unwrap().prec(), 53);
        assert_eq!(
            Number::from_bigint(&(BigInt::from(1) << 100u32)).prec(),
            101
        );
        assert_eq!(n("0.1").with_prec(53), Number::from_f64(0.1).unwrap());
    }

    #[test]
    fn pow_via_f64() {
        assert_eq!(n("2").pow(&n("10")).to_string(), "1024");
        assert_eq!(n("2").pow(&n("10")).to_json_string(), "1024");
        assert_eq!(n("3").pow(&n("39")).to_string(), "4052555153018976256");
        assert_eq!(n("3").pow(&n("39")).to_json_string(), "4052555153018976000");
        assert_eq!(n("2").pow(&n("-0.5")).to_string(), "0.7071067811865475");
        assert_eq!(n("10").pow(&n("-5")).to_string(), "1e-05");
        assert_eq!(n("2").pow(&n("1024")).to_string(), "+Inf");
        assert!(n("-8").checked_pow(&eval("1", '/', "3")).is_none());
        assert_eq!(n("0").pow(&n("0")).to_string(), "1");
    }

    #[test]
    fn parse_forms() {
        for (s, want) in [
            ("1", "1"),
            ("-2.5", "-2.5"),
            ("1e30", "1e+30"),
            ("2.5E-7", "2.5e-07"),
            ("0.1", "0.1"),
            ("+3", "3"),
            ("  42\t\n", "42"),
            (".5", "0.5"),
            ("5.", "5"),
            ("007", "7"),
            ("1e+2", "100"),
            ("0e999999", "0"),
            ("1E0", "1"),
        ] {
            assert_eq!(n(s).to_string(), want, "{s:?}");
        }
        for s in [
            "", " ", "+", "-", ".", "e5", "1e", "1e+", "1.2.3", "inf", "Inf", "+Inf", "nan", "NaN",
            "0x10", "1_000", "1 2", "--1", "1p4", "abc", "1e5x", "١",
        ] {
            assert!(Number::parse(s).is_none(), "{s:?}");
        }
        assert!(Number::parse("1e99999999999999999999").is_none());
        assert!(Number::parse("1e9999999999").is_none());
    }

    #[test]
    fn parse_is_correctly_rounded() {
        // 2^512 + 1 needs 513 bits: rounds (tie) to even, i.e. down to 2^512.
        let two512 = BigInt::from(1) << 512u32;
        let s = (&two512 + BigInt::from(1)).to_string();
        assert_eq!(n(&s).to_bigint().unwrap(), two512);
        // 2^512 + 3 is a tie too, rounding up to 2^512 + 4.
        let s = (&two512 + BigInt::from(3)).to_string();
        assert_eq!(n(&s).to_bigint().unwrap(), &two512 + BigInt::from(4));
        // 2^513 + 1 is below the midpoint; 2^513 + 3 above it.
        let two513 = BigInt::from(1) << 513u32;
        assert_eq!(
            n(&(&two513 + BigInt::from(1)).to_string())
                .to_bigint()
                .unwrap(),
            two513
        );
        assert_eq!(
            n(&(&two513 + BigInt::from(3)).to_string())
                .to_bigint()
                .unwrap(),
            &two513 + BigInt::from(4)
        );
        // 2^511 + 1 fits exactly.
        let x: BigInt = (BigInt::from(1) << 511u32) + 1;
        assert_eq!(n(&x.to_string()).to_bigint().unwrap(), x);
        // Decimal fractions round to the nearest 512-bit value: compare with exact rationals.
        for s in ["0.1", "0.3", "1.7e-20", "123.456e7", "9.87654321e-3"] {
            let x = n(s);
            let Form::Finite { mant, exp } = &x.form else {
                panic!()
            };
            assert!(mant.bits() <= 512);
            // |x - v| <= half ulp where v is the exact decimal: check via neighbours.
            let up = finite(false, mant + 1u32, *exp, u32::MAX);
            let down = finite(false, mant - 1u32, *exp, u32::MAX);
            let exact = exact_decimal(s);
            let d0 = abs_diff(&x, &exact);
            assert!(d0 <= abs_diff(&up, &exact), "{s}");
            assert!(d0 <= abs_diff(&down, &exact), "{s}");
        }
    }

    /// `s` as an exact rational `num / den`.
    fn exact_decimal(s: &str) -> (BigInt, BigInt) {
        let (m, e) = s.split_once('e').unwrap_or((s, "0"));
        let e: i64 = e.parse().unwrap();
        let (int, frac) = m.split_once('.').unwrap_or((m, ""));
        let digits: BigInt = format!("{int}{frac}").parse().unwrap();
        let e = e - frac.len() as i64;
        let ten = BigInt::from(10);
        if e >= 0 {
            (digits * ten.pow(e as u32), BigInt::from(1))
        } else {
            (digits, ten.pow((-e) as u32))
        }
    }

    /// |x - num/den| scaled by den * 2^k, as a comparable big integer.
    fn abs_diff(x: &Number, (num, den): &(BigInt, BigInt)) -> BigInt {
        let Form::Finite { mant, exp } = &x.form else {
            panic!()
        };
        let m = BigInt::from(mant.clone());
        let shift = 4000i64;
        let xs = if exp + shift >= 0 {
            m << ((exp + shift) as u64)
        } else {
            m >> ((-(exp + shift)) as u64)
        };
        let v = (num << (shift as u64)) / den;
        let d: BigInt = xs - v;
        if d.sign() == Sign::Minus {
            -d
        } else {
            d
        }
    }

    #[test]
    fn arithmetic_rounds_to_512_bits() {
        let two512 = Number::from_bigint(&(BigInt::from(1) << 512u32));
        assert_eq!(two512.prec(), 513);
        let big = two512.with_prec(512);
        // 2^512 + 1 at 512 bits is 2^512 again.
        assert_eq!(big.add(&n("1")), big);
        assert_eq!(big.add(&n("1")).sub(&big), n("0"));
        // With a 513-bit operand the sum is exact.
        assert_eq!(two512.add(&Number::from_i64(1)).sub(&two512), n("1"));
        // Add an operand far below the rounding position.
        assert_eq!(n("1").add(&n("1e-1000")), n("1"));
        assert_eq!(n("1").sub(&n("1e-1000")), n("1"));
        assert_eq!(
            n("1").sub(&n("1e-1000")).to_json_string(),
            "1",
            "1 - tiny rounds back up to 1"
        );
        assert!(n("1e-1000").sub(&n("1")) == n("-1"));
        // Large exponent gaps are cheap.
        let huge = n("1e100000000");
        assert_eq!(huge.add(&n("1")), huge);
        assert_eq!(eval("1", '/', "3").add(&eval("2", '/', "3")), n("1"));
        assert_eq!(eval("0.1", '+', "0.2").to_json_string(), "0.3");
        assert_eq!(eval("0.1", '+', "0.2"), n("0.3"));
        assert_ne!(eval("0.1", '+', "0.2"), n("0.30000000000000004"));
    }

    #[test]
    fn infinity_rules() {
        let pinf = inf();
        let ninf = pinf.neg();
        assert!(pinf.is_infinite() && !pinf.is_finite());
        assert_eq!(n("-1").div(&n("0")), ninf);
        assert_eq!(n("-1").div(&n("0").neg()), pinf);
        assert_eq!(pinf.add(&n("1")), pinf);
        assert_eq!(pinf.add(&pinf), pinf);
        assert_eq!(pinf.mul(&n("-0.5")), ninf);
        assert_eq!(n("1").div(&pinf), n("0"));
        assert!(n("1").div(&ninf).is_sign_negative());
        assert!(pinf.checked_sub(&pinf).is_none());
        assert!(pinf.checked_add(&ninf).is_none());
        assert!(ninf.checked_sub(&pinf).unwrap() == ninf);
        assert!(pinf.checked_mul(&n("0")).is_none());
        assert!(n("0").checked_div(&n("0")).is_none());
        assert!(pinf.checked_div(&ninf).is_none());
        // The unchecked forms never produce NaN: they give +0.
        assert_eq!(pinf.sub(&pinf), n("0"));
        assert_eq!(pinf.mul(&n("0")), n("0"));
        assert_eq!(n("0").div(&n("0")), n("0"));
        // cty Modulo: Inf % 3 is Inf, 3 % Inf fails.
        assert_eq!(pinf.rem(&n("3")), pinf);
        assert!(n("3").checked_rem(&pinf).is_none());
        assert_eq!(pinf.rem(&n("0")), pinf);
        assert_eq!(pinf.to_json_string(), "+Inf");
        assert_eq!(ninf.to_json_string(), "-Inf");
        assert_eq!(pinf.to_f64(), f64::INFINITY);
        assert_eq!(ninf.to_i64(), None);
        assert!(!pinf.is_integer());
        assert_eq!(pinf.to_bigint(), None);
        assert_eq!(pinf.signum(), 1);
        assert_eq!(ninf.signum(), -1);
        assert_eq!(pinf.floor(), pinf);
        assert_eq!(pinf.go_floor(), pinf);
        assert_eq!(ninf.go_ceil(), ninf);
        assert_eq!(Number::from_f64(f64::NEG_INFINITY).unwrap(), ninf);
        assert_eq!(Number::infinity(false), pinf);
        // Exponent overflow in big.Float becomes Inf.
        let e = n("1e600000000");
        assert!(e.is_finite());
        assert!(e.mul(&e).is_infinite());
        assert!(n("1e-600000000").mul(&n("1e-600000000")).is_zero());
    }

    #[test]
    fn ordering_equality_hash() {
        let mut xs = vec![
            inf(),
            n("1e1000"),
            n("9007199254740993"),
            n("9007199254740992"),
            n("1.5"),
            n("1"),
            eval("1", '/', "3"),
            n("1e-1000"),
            n("0"),
            n("-1e-1000"),
            n("-0.5"),
            n("-1"),
            n("-1e1000"),
            inf().neg(),
        ];
        let sorted = xs.clone();
        xs.reverse();
        xs.sort();
        xs.reverse();
        for (a, b) in xs.iter().zip(sorted.iter()) {
            assert_eq!(a, b);
        }
        for w in sorted.windows(2) {
            assert!(w[0] > w[1], "{:?} > {:?}", w[0], w[1]);
            assert_ne!(w[0], w[1]);
        }
        // Equal values with different precision or zero sign: equal and same hash.
        let pairs = [
            (n("0"), n("-0")),
            (n("0"), Number::from_i64(0)),
            (n("5"), Number::from_i64(5)),
            (n("0.5"), Number::from_f64(0.5).unwrap()),
            (n("1e20"), Number::from_u64(1).mul(&n("1e20"))),
            (n("-3"), Number::from_bigint(&BigInt::from(-3))),
            (n("2.50"), n("25e-1")),
            (inf(), Number::from_f64(f64::INFINITY).unwrap()),
        ];
        for (a, b) in pairs {
            assert_eq!(a, b);
            assert_eq!(a.cmp(&b), Ordering::Equal);
            assert_eq!(hash_of(&a), hash_of(&b), "{a:?} {b:?}");
        }
        assert!(n("0.1") != Number::from_f64(0.1).unwrap());
        assert!(n("0.1") < Number::from_f64(0.1).unwrap());
    }

    #[test]
    fn f64_conversions() {
        for f in [
            0.1,
            -2.5,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::from_bits(0x000f_ffff_ffff_ffff),
            1.0 / 3.0,
            123456789.123,
        ] {
            let x = Number::from_f64(f).unwrap();
            assert_eq!(x.to_f64().to_bits(), f.to_bits(), "{f}");
        }
        assert!(Number::from_f64(f64::NAN).is_none());
        assert!(Number::from_f64(-0.0).unwrap().to_f64().is_sign_negative());
        // Correct rounding of parsed decimals agrees with Rust's (correctly rounded) parser.
        for s in [
            "0.1",
            "0.3",
            "1e23",
            "9007199254740993",
            "9007199254740995",
            "2.2250738585072011e-308",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1e400",
            "1e-400",
            "123456789012345678901234567890",
            "0.000000000000000000000000000000123456789",
        ] {
            let want: f64 = s.parse().unwrap();
            assert_eq!(n(s).to_f64().to_bits(), want.to_bits(), "{s}");
        }
        // Ties: 2^53 + 1 rounds to even (down), 2^53 + 3 up.
        assert_eq!(n("9007199254740993").to_f64(), 9007199254740992.0);
        assert_eq!(n("9007199254740995").to_f64(), 9007199254740996.0);
        // Just above the tie rounds up.
        assert_eq!(
            n("9007199254740993.0000000000001").to_f64(),
            9007199254740994.0
        );
        assert_eq!(eval("1", '/', "3").to_f64(), 1.0 / 3.0);
    }

    #[test]
    fn integer_accessors() {
        assert_eq!(n("9007199254740993").to_i64(), Some(9007199254740993));
        assert_eq!(n("9223372036854775807").to_i64(), Some(i64::MAX));
        assert_eq!(n("-9223372036854775808").to_i64(), Some(i64::MIN));
        assert_eq!(n("9223372036854775808").to_i64(), None);
        assert_eq!(n("1.5").to_i64(), None);
        assert_eq!(n("-0").to_i64(), Some(0));
        assert!(n("1e30").is_integer());
        assert!(!n("0.5").is_integer());
        assert_eq!(
            n("1e30").to_bigint().unwrap().to_string(),
            "1000000000000000000000000000000"
        );
        assert_eq!(n("-7").to_bigint(), Some(BigInt::from(-7)));
        assert_eq!(n("7.5").to_bigint(), None);
        assert_eq!(
            Number::from_u64(u64::MAX).to_string(),
            "1.8446744073709552e+19"
        );
        assert_eq!(
            Number::from_u64(u64::MAX).to_json_string(),
            "18446744073709551615"
        );
        assert_eq!(
            Number::from_i64(i64::MIN).to_string(),
            "-9223372036854775808"
        );
        let b: BigInt = "123456789012345678901234567890123".parse().unwrap();
        assert_eq!(Number::from_bigint(&b).to_bigint(), Some(b.clone()));
        assert_eq!(Number::from_bigint(&b).to_json_string(), b.to_string());
    }

    #[test]
    fn floor_ceil_and_go_conversions() {
        assert_eq!(n("2.5").floor(), n("2"));
        assert_eq!(n("-2.5").floor(), n("-3"));
        assert_eq!(n("2.5").ceil(), n("3"));
        assert_eq!(n("-2.5").ceil(), n("-2"));
        assert_eq!(n("-0.5").ceil().to_json_string(), "-0");
        assert_eq!(n("0.5").floor().to_json_string(), "0");
        assert_eq!(n("7").floor(), n("7"));
        assert_eq!(
            n("1e30")
                .add(&n("0.5"))
                .floor()
                .to_bigint()
                .unwrap()
                .to_string(),
            "1000000000000000000000000000000"
        );
        // Exact on big values, no float64 involved.
        let x = n("9007199254740993.5");
        assert_eq!(x.floor().to_string(), "9007199254740993");
        // Packer's floor()/ceil() go through float64 and int64(...).
        assert_eq!(n("1e30").go_floor().to_string(), "-9223372036854775808");
        assert_eq!(n("-1e30").go_ceil().to_string(), "-9223372036854775808");
        assert_eq!(
            n("1e30").go_floor().to_json_string(),
            "-9223372036854775808"
        );
        assert_eq!(n("-2.5").go_floor().to_string(), "-3");
        assert_eq!(n("-0.5").go_floor().to_string(), "-1");
        assert_eq!(n("0.5").go_ceil().to_string(), "1");
        assert_eq!(n("-0.5").go_ceil().to_json_string(), "0");
        assert_eq!(
            n("9007199254740993").go_floor().to_string(),
            "9007199254740992"
        );
        assert_eq!(
            n("1e18").add(&n("1")).go_floor().to_string(),
            "1000000000000000000"
        );
        assert_eq!(n("2.5").go_floor().prec(), 64);
        assert_eq!(n("1e30").to_i64_go(), i64::MIN);
        assert_eq!(n("-1e30").to_i64_go(), i64::MIN);
        assert_eq!(inf().to_i64_go(), i64::MIN);
        assert_eq!(n("-2.9").to_i64_go(), -2);
        assert_eq!(n("1e30").to_i64_saturating(), i64::MAX);
        assert_eq!(n("-1e30").to_i64_saturating(), i64::MIN);
        assert_eq!(n("-2.9").to_i64_saturating(), -2);
    }

    #[test]
    fn sign_helpers() {
        assert!(n("-0").is_zero());
        assert_eq!(n("-0").signum(), 0);
        assert_eq!(n("-3").signum(), -1);
        assert_eq!(n("0.1").signum(), 1);
        assert_eq!(n("-1.5").abs(), n("1.5"));
        assert_eq!(n("-0").abs().to_json_string(), "0");
        assert_eq!(n("0").neg().to_json_string(), "-0");
        assert_eq!(n("1.5").neg().to_string(), "-1.5");
        assert_eq!(Number::from(3i64), n("3"));
    }

    #[test]
    fn remainder_semantics() {
        assert_eq!(eval("5", '%', "3"), n("2"));
        assert_eq!(eval("-5", '%', "3"), n("-2"));
        assert_eq!(eval("5.5", '%', "2"), n("1.5"));
        assert_eq!(eval("7", '%', "2.5"), n("2"));
        assert_eq!(eval("-7", '%', "-2.5"), n("-2"));
        assert_eq!(eval("-3", '%', "5").to_json_string(), "-3");
        assert_eq!(eval("0", '%', "5"), n("0"));
        // Precision of the result is max(64, bits(trunc(x/y))).
        assert_eq!(eval("0.1", '%', "0.03").prec(), 64);
        assert_eq!(eval("1e40", '%', "3").prec(), 132);
    }

    #[test]
    fn go_g_formatting() {
        for (f, want) in [
            (1e21, "1e+21"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.000123, "0.000123"),
            (0.0000123, "1.23e-05"),
            (1e100, "1e+100"),
            (1.5e-300, "1.5e-300"),
            (-0.0, "-0"),
            (5e-324, "5e-324"),
            (100.0, "100"),
            (999999.5, "999999.5"),
        ] {
            assert_eq!(crate::gocompat::number::format_g(f), want, "{f}");
        }
    }
}
