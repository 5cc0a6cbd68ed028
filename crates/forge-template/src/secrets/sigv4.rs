//! AWS Signature Version 4 (the algorithm of AWS's "Signing AWS API requests" guide), for
//! requests whose headers and payload are fully known before sending.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Access keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

/// One request to sign.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    /// The URI path, already percent-encoded as sent ("/" at least).
    pub path: &'a str,
    /// The query string, already percent-encoded, without `?`.
    pub query: &'a str,
    /// Headers to sign (names in any case); must include `host` and `x-amz-date`.
    pub headers: &'a [(String, String)],
    pub payload: &'a [u8],
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Collapses runs of spaces and trims, as canonical header values require.
fn canonical_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sorts query parameters by name, then value (they are already encoded).
fn canonical_query(q: &str) -> String {
    if q.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(&str, &str)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request and the signed-headers list.
fn canonical_request(req: &Request) -> (String, String) {
    let mut hs: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), canonical_value(v)))
        .collect();
    hs.sort();
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, v) in hs {
        match merged.last_mut() {
            Some((lk, lv)) if *lk == k => {
                lv.push(',');
                lv.push_str(&v);
            }
            _ => merged.push((k, v)),
        }
    }
    let signed = merged
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canon_headers = String::new();
    for (k, v) in &merged {
        canon_headers.push_str(k);
        canon_headers.push(':');
        canon_headers.push_str(v);
        canon_headers.push('\n');
    }
    let path = if req.path.is_empty() { "/" } else { req.path };
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        path,
        canonical_query(req.query),
        canon_headers,
        signed,
        sha256_hex(req.payload)
    );
    (text, signed)
}

/// The `Authorization` header value for `req`, signed at `amz_date` (`YYYYMMDDTHHMMSSZ`, the
/// same value as the request's `x-amz-date` header).
pub(crate) fn authorization(
    req: &Request,
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let (canonical, signed) = canonical_request(req);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac(
        format!("AWS4{}", creds.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_creds() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    /// The worked example of AWS's SigV4 documentation (IAM ListUsers, 2015-08-30).
    #[test]
    fn documented_example() {
        let headers = vec![
            (
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            ),
            ("Host".to_string(), "iam.amazonaws.com".to_string()),
            ("X-Amz-Date".to_string(), "20150830T123600Z".to_string()),
        ];
        let req = Request {
            method: "GET",
            path: "/",
            query: "Version=2010-05-08&Action=ListUsers",
            headers: &headers,
            payload: b"",
        };
        let (canon, signed) = canonical_request(&req);
        assert_eq!(signed, "content-type;host;x-amz-date");
        assert_eq!(
            sha256_hex(canon.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let auth = authorization(
            &req,
            &example_creds(),
            "us-east-1",
            "iam",
            "20150830T123600Z",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_merged() {
        let headers = vec![
            ("My-Header".to_string(), "  a   b  ".to_string()),
            ("my-header".to_string(), "c".to_string()),
            ("host".to_string(), "h".to_string()),
        ];
        let req = Request {
            method: "POST",
            path: "",
            query: "",
            headers: &headers,
            payload: b"{}",
        };
        let (canon, signed) = canonical_request(&req);
        assert_eq!(signed, "host;my-header");
        assert!(
            canon.starts_with("POST\n/\n\nhost:h\nmy-header:a b,c\n\n"),
            "{canon}"
        );
    }
}
