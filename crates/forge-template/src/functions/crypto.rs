//! Hashing, bcrypt, RSA decryption and UUIDs.

use num_bigint::BigUint;
use sha1::Digest;

use super::encoding::b64_decode;
use super::{arg_int, arg_str, call_err, p, FuncCtx, FuncError, FuncResult, Function};
use crate::value::{Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    let s = |n| p(n, Type::String);
    v.push(Function::new("md5", vec![s("str")], Type::String, md5));
    v.push(Function::new("sha1", vec![s("str")], Type::String, sha1));
    v.push(Function::new(
        "sha256",
        vec![s("str")],
        Type::String,
        sha256,
    ));
    v.push(Function::new(
        "sha512",
        vec![s("str")],
        Type::String,
        sha512,
    ));
    v.push(
        Function::new("bcrypt", vec![s("str")], Type::String, bcrypt)
            .variadic(p("cost", Type::Number)),
    );
    v.push(Function::new(
        "rsadecrypt",
        vec![s("ciphertext"), s("privatekey")],
        Type::String,
        rsadecrypt,
    ));
    v.push(Function::new("uuidv4", vec![], Type::String, uuidv4));
    v.push(Function::new(
        "uuidv5",
        vec![s("namespace"), s("name")],
        Type::String,
        uuidv5,
    ));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(hex(&md5::Md5::digest(
        arg_str(a, 0).as_bytes(),
    ))))
}

fn sha1(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(hex(&sha1::Sha1::digest(
        arg_str(a, 0).as_bytes(),
    ))))
}

fn sha256(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(hex(&sha2::Sha256::digest(
        arg_str(a, 0).as_bytes(),
    ))))
}

fn sha512(_: &FuncCtx, a: &[Value]) -> FuncResult {
    Ok(Value::string(hex(&sha2::Sha512::digest(
        arg_str(a, 0).as_bytes(),
    ))))
}

fn bcrypt(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let mut cost = 10i64;
    if a.len() > 1 {
        cost = arg_int(a, 1).map_err(call_err)?;
    }
    if a.len() > 2 {
        return Err(call_err("bcrypt() takes no more than two arguments"));
    }
    if cost < 4 {
        cost = 10;
    }
    if cost > 31 {
        return Err(call_err(format!(
            "error occured generating password crypto/bcrypt: cost {cost} is outside allowed range (4,31)"
        )));
    }
    let parts = ::bcrypt::hash_with_result(arg_str(a, 0), cost as u32)
        .map_err(|e| call_err(format!("error occured generating password {e}")))?;
    Ok(Value::string(
        parts.format_for_version(::bcrypt::Version::TwoA),
    ))
}

/// A PEM block: its type, headers and decoded body.
struct Pem {
    headers: Vec<(String, String)>,
    der: Vec<u8>,
}

fn pem_decode(s: &str) -> Option<Pem> {
    let start = s.find("-----BEGIN ")?;
    let rest = &s[start + 11..];
    let type_end = rest.find("-----")?;
    let kind = &rest[..type_end];
    let body_start = &rest[type_end + 5..];
    let end_marker = format!("-----END {kind}-----");
    let end = body_start.find(&end_marker)?;
    let body = &body_start[..end];
    let mut headers = Vec::new();
    let mut b64 = String::new();
    let mut in_headers = true;
    for line in body.lines() {
        let line = line.trim();
        if in_headers {
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
                continue;
            }
            in_headers = false;
        }
        b64.push_str(line);
    }
    let der = b64_decode(&b64).ok()?;
    Some(Pem { headers, der })
}

/// A minimal DER reader: returns (tag, content, rest).
fn der_next(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *d.first()?;
    let l0 = *d.get(1)?;
    let (len, hdr) = if l0 < 0x80 {
        (usize::from(l0), 2)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*d.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, d.get(hdr..end)?, d.get(end..)?))
}

struct RsaKey {
    n: BigUint,
    d: BigUint,
}

fn parse_pkcs1(der: &[u8]) -> Result<RsaKey, String> {
    let malformed = || {
        "x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)"
            .to_string()
    };
    let (tag, seq, _) = der_next(der).ok_or_else(malformed)?;
    if tag != 0x30 {
        return Err(malformed());
    }
    let mut ints = Vec::new();
    let mut rest = seq;
    while !rest.is_empty() {
        let (t, c, r) = der_next(rest).ok_or_else(malformed)?;
        if t != 0x02 {
            return Err(malformed());
        }
        ints.push(c);
        rest = r;
    }
    if ints.len() < 9 {
        return Err(malformed());
    }
    if ints[0] != [0] {
        return Err("x509: unsupported private key version".into());
    }
    Ok(RsaKey {
        n: BigUint::from_bytes_be(ints[1]),
        d: BigUint::from_bytes_be(ints[3]),
    })
}

fn rsadecrypt(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let s = arg_str(a, 0);
    let ct = b64_decode(s).map_err(|_| {
        call_err(format!(
            "failed to decode input {s:?}: cipher text must be base64-encoded"
        ))
    })?;
    let pem =
        pem_decode(arg_str(a, 1)).ok_or_else(|| call_err("failed to parse key: no key found"))?;
    if pem
        .headers
        .iter()
        .any(|(k, v)| k == "Proc-Type" && v == "4,ENCRYPTED")
    {
        return Err(call_err("failed to parse key: password protected keys are not supported. Please decrypt the key prior to use"));
    }
    let key = parse_pkcs1(&pem.der).map_err(call_err)?;
    let fail = || call_err("crypto/rsa: decryption error");
    let k = usize::try_from(key.n.bits().div_ceil(8)).map_err(|_| fail())?;
    if ct.len() > k || k < 11 {
        return Err(fail());
    }
    let c = BigUint::from_bytes_be(&ct);
    if c >= key.n {
        return Err(fail());
    }
    let m = c.modpow(&key.d, &key.n).to_bytes_be();
    if m.len() > k {
        return Err(fail());
    }
    let mut em = vec![0u8; k - m.len()];
    em.extend_from_slice(&m);
    if em[0] != 0 || em[1] != 2 {
        return Err(fail());
    }
    let sep = em[2..].iter().position(|b| *b == 0).ok_or_else(fail)? + 2;
    if sep < 10 {
        return Err(fail());
    }
    Ok(Value::string(
        String::from_utf8_lossy(&em[sep + 1..]).into_owned(),
    ))
}

fn uuid_string(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn uuidv4(_: &FuncCtx, _: &[Value]) -> FuncResult {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| call_err(e.to_string()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(Value::string(uuid_string(&b)))
}

fn xtob(h: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(h).ok()?;
    u8::from_str_radix(s, 16)
        .ok()
        .filter(|_| h.iter().all(u8::is_ascii_hexdigit))
}

/// google/uuid's `Parse`.
fn parse_uuid(s: &str) -> Result<[u8; 16], String> {
    let mut out = [0u8; 16];
    let b = s.as_bytes();
    let body: &[u8] = match b.len() {
        36 => b,
        45 => {
            if !b[..9].eq_ignore_ascii_case(b"urn:uuid:") {
                return Err(format!(
                    "invalid urn prefix: {:?}",
                    String::from_utf8_lossy(&b[..9])
                ));
            }
            &b[9..]
        }
        38 => &b[1..],
        32 => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = xtob(&b[i * 2..i * 2 + 2]).ok_or("invalid UUID format")?;
            }
            return Ok(out);
        }
        n => return Err(format!("invalid UUID length: {n}")),
    };
    if body[8] != b'-' || body[13] != b'-' || body[18] != b'-' || body[23] != b'-' {
        return Err("invalid UUID format".into());
    }
    const POS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    for (i, x) in POS.iter().enumerate() {
        out[i] = xtob(&body[*x..*x + 2]).ok_or("invalid UUID format")?;
    }
    Ok(out)
}

fn uuidv5(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let ns_s = arg_str(a, 0);
    let ns = match ns_s {
        "dns" => parse_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        "url" => parse_uuid("6ba7b811-9dad-11d1-80b4-00c04fd430c8"),
        "oid" => parse_uuid("6ba7b812-9dad-11d1-80b4-00c04fd430c8"),
        "x500" => parse_uuid("6ba7b814-9dad-11d1-80b4-00c04fd430c8"),
        other => parse_uuid(other),
    }
    .map_err(|e| -> FuncError {
        call_err(format!("uuidv5() doesn't support namespace {ns_s} ({e})"))
    })?;
    let mut h = sha1::Sha1::new();
    h.update(ns);
    h.update(arg_str(a, 1).as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(Value::string(uuid_string(&b)))
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    #[test]
    fn hashes() {
        assert_eq!(
            call_ok(r#"md5("hello")"#),
            "5d41402abc4b2a76b9719d911017c592"
        );
        assert_eq!(
            call_ok(r#"sha1("hello")"#),
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
        );
        assert_eq!(
            call_ok(r#"sha256("hello")"#),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(call_ok(r#"sha512("")"#).starts_with("cf83e1357eefb8bd"));
    }

    #[test]
    fn uuids_and_bcrypt() {
        assert_eq!(
            call_ok(r#"uuidv5("dns", "a")"#),
            "4f3f2898-69e3-5a0d-820a-c4e87987dbce"
        );
        let v4 = call_ok("uuidv4()");
        assert_eq!(v4.len(), 36);
        assert_eq!(&v4[14..15], "4");
        assert_eq!(
            call_err_detail(r#"uuidv5("zz", "a")"#),
            "Call to function \"uuidv5\" failed: uuidv5() doesn't support namespace zz (invalid UUID length: 2)."
        );
        let h = call_ok(r#"bcrypt("secret", 4)"#);
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert!(::bcrypt::verify("secret", &h).unwrap_or(false));
        assert!(call_ok(r#"bcrypt("a", 3)"#).starts_with("$2a$10$"));
    }

    #[test]
    fn rsa() {
        // A 512-bit test key and a ciphertext of "hello" made with it (PKCS#1 v1.5).
        assert_eq!(
            call_err_detail(r#"rsadecrypt("x", "y")"#),
            "Call to function \"rsadecrypt\" failed: failed to decode input \"x\": cipher text must be base64-encoded."
        );
        assert_eq!(
            call_err_detail(r#"rsadecrypt("aGVsbG8=", "y")"#),
            "Call to function \"rsadecrypt\" failed: failed to parse key: no key found."
        );
    }
}
