//! Go compatibility: the few places where forge must write or read text exactly as Packer's
//! Go runtime does. One implementation each, shared by the template engines, the config
//! decoders and the plugins.
//!
//! - [`duration`]: `time.ParseDuration` and `Duration.String`.
//! - [`quote`]: `strconv.Quote`/`QuoteRune`/`Unquote` and `unicode.IsPrint`.
//! - [`number`]: float64 text (`strconv` `'g'`, `fmt` `%v`) and `math.Pow`.
//! - [`time`]: `time.Format` layouts, RFC 3339 and Packer's `strftime`.

pub mod duration;
pub mod number;
pub mod quote;
pub mod time;
