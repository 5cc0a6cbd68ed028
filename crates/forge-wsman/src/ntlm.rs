//! The server side of NTLM (MS-NLMP): CHALLENGE, NTLMv2 verification of AUTHENTICATE, session
//! keys, and message sealing/signing with extended session security.

use hmac::{Hmac, KeyInit as _, Mac};

use md5::{Digest as _, Md5};
use rc4::{Rc4, StreamCipher};

type HmacMd5 = Hmac<Md5>;
type Rc4_128 = Rc4;

/// RC4 keyed with 16 bytes (a length RC4 always accepts).
fn rc4_new(key: &[u8; 16]) -> Rc4 {
    Rc4::new_from_slice(key).unwrap_or_else(|_| Rc4::new(&Default::default()))
}

/// NTLMSSP_NEGOTIATE_UNICODE.
pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
/// NTLM_NEGOTIATE_OEM.
pub const NEGOTIATE_OEM: u32 = 0x0000_0002;
/// NTLMSSP_REQUEST_TARGET.
pub const REQUEST_TARGET: u32 = 0x0000_0004;
/// NTLMSSP_NEGOTIATE_SIGN.
pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
/// NTLMSSP_NEGOTIATE_SEAL.
pub const NEGOTIATE_SEAL: u32 = 0x0000_0020;
/// NTLMSSP_NEGOTIATE_NTLM.
pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
/// NTLMSSP_NEGOTIATE_ALWAYS_SIGN.
pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
/// NTLMSSP_TARGET_TYPE_SERVER.
pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
/// NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY.
pub const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
/// NTLMSSP_NEGOTIATE_TARGET_INFO.
pub const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
/// NTLMSSP_NEGOTIATE_VERSION.
pub const NEGOTIATE_VERSION: u32 = 0x0200_0000;
/// NTLMSSP_NEGOTIATE_128.
pub const NEGOTIATE_128: u32 = 0x2000_0000;
/// NTLMSSP_NEGOTIATE_KEY_EXCH.
pub const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;
/// NTLMSSP_NEGOTIATE_56.
pub const NEGOTIATE_56: u32 = 0x8000_0000;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// An NTLM failure (never carries a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmError(pub String);

impl std::fmt::Display for NtlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NTLM: {}", self.0)
    }
}

impl std::error::Error for NtlmError {}

fn err(s: &str) -> NtlmError {
    NtlmError(s.to_string())
}

/// The message type of an NTLMSSP token (1, 2 or 3), after unwrapping SPNEGO if needed.
pub fn message_type(token: &[u8]) -> Option<(u32, &[u8])> {
    let start = token.windows(8).position(|w| w == SIGNATURE)?;
    let msg = &token[start..];
    if msg.len() < 12 {
        return None;
    }
    Some((u32::from_le_bytes([msg[8], msg[9], msg[10], msg[11]]), msg))
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn from_utf16le(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length: new_from_slice cannot fail for it.
    let mut mac = match HmacMd5::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 16],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// NTOWFv1: MD4 of the UTF-16LE password.
pub fn ntowf_v1(password: &str) -> [u8; 16] {
    use md4::Digest as _;
    md4::Md4::digest(utf16le(password)).into()
}

/// NTOWFv2 (= ResponseKeyNT): HMAC_MD5(NTOWFv1, UTF16(UPPER(user) + domain)).
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let ident = utf16le(&(user.to_uppercase() + domain));
    hmac_md5(&ntowf_v1(password), &[&ident])
}

fn rc4_once(key: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut c = rc4_new(key);
    c.apply_keystream(&mut out);
    out
}

/// The server's state between CHALLENGE and AUTHENTICATE.
#[derive(Clone, Debug)]
pub struct Challenge {
    /// The 8-byte server challenge.
    pub server_challenge: [u8; 8],
    /// Flags sent in CHALLENGE.
    pub flags: u32,
    /// The client's NEGOTIATE message (for the MIC).
    pub negotiate: Vec<u8>,
    /// The CHALLENGE message sent.
    pub message: Vec<u8>,
}

fn av_pair(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
}

/// Builds the CHALLENGE message answering `negotiate`. `timestamp` is a FILETIME.
pub fn challenge(
    negotiate: &[u8],
    hostname: &str,
    server_challenge: [u8; 8],
    timestamp: u64,
) -> Result<Challenge, NtlmError> {
    let (ty, msg) = message_type(negotiate).ok_or_else(|| err("not an NTLMSSP token"))?;
    if ty != 1 || msg.len() < 16 {
        return Err(err("expected a NEGOTIATE message"));
    }
    let client = u32::from_le_bytes([msg[12], msg[13], msg[14], msg[15]]);
    let supported = NEGOTIATE_UNICODE
        | REQUEST_TARGET
        | NEGOTIATE_SIGN
        | NEGOTIATE_SEAL
        | NEGOTIATE_ALWAYS_SIGN
        | NEGOTIATE_EXTENDED_SESSIONSECURITY
        | NEGOTIATE_VERSION
        | NEGOTIATE_128
        | NEGOTIATE_KEY_EXCH
        | NEGOTIATE_56;
    let mut flags =
        (client & supported) | NEGOTIATE_NTLM | NEGOTIATE_TARGET_INFO | TARGET_TYPE_SERVER;
    if client & NEGOTIATE_UNICODE == 0 {
        flags |= NEGOTIATE_OEM;
    }
    let host = hostname.to_uppercase();
    let target_name = utf16le(&host);
    let mut info = Vec::new();
    av_pair(&mut info, 2, &utf16le(&host)); // MsvAvNbDomainName
    av_pair(&mut info, 1, &utf16le(&host)); // MsvAvNbComputerName
    av_pair(&mut info, 4, &utf16le(&host.to_lowercase())); // MsvAvDnsDomainName
    av_pair(&mut info, 3, &utf16le(&host.to_lowercase())); // MsvAvDnsComputerName
    av_pair(&mut info, 7, &timestamp.to_le_bytes()); // MsvAvTimestamp
    av_pair(&mut info, 0, &[]);
    let header_len = 56u32;
    let mut m = Vec::new();
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&(target_name.len() as u16).to_le_bytes());
    m.extend_from_slice(&(target_name.len() as u16).to_le_bytes());
    m.extend_from_slice(&header_len.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&server_challenge);
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(header_len + target_name.len() as u32).to_le_bytes());
    m.extend_from_slice(&[10, 0, 0x63, 0x45, 0, 0, 0, 15]); // version 10.0.17763, NTLMSSP rev 15
    m.extend_from_slice(&target_name);
    m.extend_from_slice(&info);
    Ok(Challenge {
        server_challenge,
        flags,
        negotiate: msg.to_vec(),
        message: m,
    })
}

fn field(msg: &[u8], at: usize) -> Result<&[u8], NtlmError> {
    if msg.len() < at + 8 {
        return Err(err("AUTHENTICATE message too short"));
    }
    let len = u16::from_le_bytes([msg[at], msg[at + 1]]) as usize;
    let off = u32::from_le_bytes([msg[at + 4], msg[at + 5], msg[at + 6], msg[at + 7]]) as usize;
    if len == 0 {
        return Ok(&[]);
    }
    msg.get(off..off.checked_add(len).ok_or_else(|| err("bad field"))?)
        .ok_or_else(|| err("field outside the message"))
}

/// A successful AUTHENTICATE.
pub struct Authenticated {
    /// The user name as configured (the matched account).
    pub user: String,
    /// The domain the client sent.
    pub domain: String,
    /// Session security for sealing/signing.
    pub session: Session,
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

fn bare_user(name: &str) -> &str {
    let name = name.rsplit('\\').next().unwrap_or(name);
    name.split('@').next().unwrap_or(name)
}

/// Verifies an AUTHENTICATE message (NTLMv2 only) against the accounts.
pub fn authenticate(
    ch: &Challenge,
    auth: &[u8],
    users: &[(String, String)],
) -> Result<Authenticated, NtlmError> {
    let (ty, msg) = message_type(auth).ok_or_else(|| err("not an NTLMSSP token"))?;
    if ty != 3 || msg.len() < 64 {
        return Err(err("expected an AUTHENTICATE message"));
    }
    let flags = u32::from_le_bytes([msg[60], msg[61], msg[62], msg[63]]);
    let unicode = flags & NEGOTIATE_UNICODE != 0;
    let text = |b: &[u8]| {
        if unicode {
            from_utf16le(b)
        } else {
            String::from_utf8_lossy(b).into_owned()
        }
    };
    let nt = field(msg, 20)?;
    let domain = text(field(msg, 28)?);
    let user = text(field(msg, 36)?);
    let enc_key = field(msg, 52)?;
    if nt.len() <= 24 {
        return Err(err("only NTLMv2 responses are accepted"));
    }
    let (proof, temp) = nt.split_at(16);
    let account = users
        .iter()
        .find(|(u, _)| bare_user(u).eq_ignore_ascii_case(bare_user(&user)))
        .ok_or_else(|| err("unknown user"))?;
    let key_nt = ntowf_v2(&account.1, &user, &domain);
    let expected = hmac_md5(&key_nt, &[&ch.server_challenge, temp]);
    if expected != proof {
        return Err(err("wrong password"));
    }
    let session_base_key = hmac_md5(&key_nt, &[proof]);
    let exported = if flags & NEGOTIATE_KEY_EXCH != 0 && enc_key.len() == 16 {
        let k = rc4_once(&session_base_key, enc_key);
        let mut a = [0u8; 16];
        a.copy_from_slice(&k);
        a
    } else {
        session_base_key
    };
    // The MIC, when the client says (MsvAvFlags bit 0x2) it sent one.
    if mic_present(temp) && msg.len() >= 88 {
        let mut zeroed = msg.to_vec();
        zeroed[72..88].fill(0);
        let mic = hmac_md5(&exported, &[&ch.negotiate, &ch.message, &zeroed]);
        if mic[..] != msg[72..88] {
            return Err(err("MIC mismatch"));
        }
    }
    Ok(Authenticated {
        user: account.0.clone(),
        domain,
        session: Session::new(&exported, flags),
    })
}

/// Whether the NTLMv2 client blob's AV pairs carry MsvAvFlags with the MIC bit.
fn mic_present(temp: &[u8]) -> bool {
    // temp: RespType, HiRespType, Reserved1(2), Reserved2(4), TimeStamp(8), ChallengeFromClient(8), Reserved3(4), AvPairs
    let mut i = 28;
    while i + 4 <= temp.len() {
        let id = u16::from_le_bytes([temp[i], temp[i + 1]]);
        let len = u16::from_le_bytes([temp[i + 2], temp[i + 3]]) as usize;
        if id == 0 {
            break;
        }
        if id == 6 && len == 4 && i + 8 <= temp.len() {
            let v = u32::from_le_bytes([temp[i + 4], temp[i + 5], temp[i + 6], temp[i + 7]]);
            return v & 2 != 0;
        }
        i += 4 + len;
    }
    false
}

/// Derives a sign or seal key (MS-NLMP SIGNKEY/SEALKEY, extended session security).
pub fn derive_key(exported: &[u8; 16], flags: u32, magic: &[u8], seal: bool) -> [u8; 16] {
    if seal {
        let key: &[u8] = if flags & NEGOTIATE_128 != 0 {
            exported
        } else if flags & NEGOTIATE_56 != 0 {
            &exported[..7]
        } else {
            &exported[..5]
        };
        md5(&[key, magic])
    } else {
        md5(&[exported, magic])
    }
}

const C2S_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const S2C_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const C2S_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const S2C_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// NTLM session security, from the server's side.
pub struct Session {
    flags: u32,
    client_sign: [u8; 16],
    server_sign: [u8; 16],
    client_seal: Rc4_128,
    server_seal: Rc4_128,
    recv_seq: u32,
    send_seq: u32,
}

impl Session {
    /// Session security from the exported session key and the negotiated flags.
    pub fn new(exported: &[u8; 16], flags: u32) -> Session {
        let cs = derive_key(exported, flags, C2S_SEAL, true);
        let ss = derive_key(exported, flags, S2C_SEAL, true);
        Session {
            flags,
            client_sign: derive_key(exported, flags, C2S_SIGN, false),
            server_sign: derive_key(exported, flags, S2C_SIGN, false),
            client_seal: rc4_new(&cs),
            server_seal: rc4_new(&ss),
            recv_seq: 0,
            send_seq: 0,
        }
    }

    fn signature(
        handle: &mut Rc4_128,
        sign_key: &[u8; 16],
        flags: u32,
        seq: u32,
        msg: &[u8],
    ) -> [u8; 16] {
        let mac = hmac_md5(sign_key, &[&seq.to_le_bytes(), msg]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&mac[..8]);
        if flags & NEGOTIATE_KEY_EXCH != 0 {
            handle.apply_keystream(&mut checksum);
        }
        let mut sig = [0u8; 16];
        sig[0] = 1;
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq.to_le_bytes());
        sig
    }

    /// Seals a message for the client: (signature, sealed bytes).
    pub fn seal(&mut self, msg: &[u8]) -> ([u8; 16], Vec<u8>) {
        let mut sealed = msg.to_vec();
        self.server_seal.apply_keystream(&mut sealed);
        let sig = Self::signature(
            &mut self.server_seal,
            &self.server_sign,
            self.flags,
            self.send_seq,
            msg,
        );
        self.send_seq = self.send_seq.wrapping_add(1);
        (sig, sealed)
    }

    /// Unseals a client message and checks its signature.
    pub fn unseal(&mut self, sealed: &[u8], sig: &[u8]) -> Result<Vec<u8>, NtlmError> {
        let mut msg = sealed.to_vec();
        self.client_seal.apply_keystream(&mut msg);
        let expected = Self::signature(
            &mut self.client_seal,
            &self.client_sign,
            self.flags,
            self.recv_seq,
            &msg,
        );
        self.recv_seq = self.recv_seq.wrapping_add(1);
        if expected[..] != *sig {
            return Err(err("message signature mismatch"));
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // MS-NLMP 4.2.4: NTLMv2 authentication known answers.
    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];

    fn temp_blob() -> Vec<u8> {
        let mut t = vec![1, 1, 0, 0, 0, 0, 0, 0];
        t.extend_from_slice(&[0; 8]); // time
        t.extend_from_slice(&[0xaa; 8]); // client challenge
        t.extend_from_slice(&[0; 4]);
        av_pair(&mut t, 2, &utf16le("Domain"));
        av_pair(&mut t, 1, &utf16le("Server"));
        av_pair(&mut t, 0, &[]);
        t.extend_from_slice(&[0; 4]);
        t
    }

    #[test]
    fn ntowfv2_known_answer() {
        assert_eq!(
            ntowf_v2("Password", "User", "Domain").to_vec(),
            hex("0c868a403bfd7a93a3001ef22ef02e3f")
        );
    }

    #[test]
    fn ntproofstr_session_key_known_answer() {
        let key = ntowf_v2("Password", "User", "Domain");
        let proof = hmac_md5(&key, &[&SERVER_CHALLENGE, &temp_blob()]);
        assert_eq!(proof.to_vec(), hex("68cd0ab851e51c96aabc927bebef6a1c"));
        let base = hmac_md5(&key, &[&proof]);
        assert_eq!(base.to_vec(), hex("8de40ccadbc14a82f15cb0ad0de95ca3"));
        assert_eq!(
            rc4_once(&base, &[0x55; 16]),
            hex("c5dad2544fc9799094ce1ce90bc9d03e")
        );
    }

    #[test]
    fn seal_known_answer() {
        // Flags of the 4.2.4 example: KEY_EXCH, 56, 128, VERSION, TARGET_INFO, ESS, ..., SEAL, SIGN.
        let flags = 0xe28a_8233;
        let exported = [0x55u8; 16];
        assert_eq!(
            derive_key(&exported, flags, C2S_SEAL, true).to_vec(),
            hex("59f600973cc4960a25480a7c196e4c58")
        );
        assert_eq!(
            derive_key(&exported, flags, C2S_SIGN, false).to_vec(),
            hex("4788dc861b4782f35d43fd98fe1a2d39")
        );
        // The example seals with the client-to-server keys: mirror it with a server-side session
        // whose "server" keys are the client's.
        let mut s = Session::new(&exported, flags);
        std::mem::swap(&mut s.server_sign, &mut s.client_sign);
        std::mem::swap(&mut s.server_seal, &mut s.client_seal);
        let (sig, sealed) = s.seal(&utf16le("Plaintext"));
        assert_eq!(sealed, hex("54e50165bf1936dc996020c1811b0f06fb5f"));
        assert_eq!(sig.to_vec(), hex("010000007fb38ec5c55d497600000000"));
    }

    fn negotiate_msg(flags: u32) -> Vec<u8> {
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&[0; 16]);
        m
    }

    /// A client side written from the spec, to round-trip the server.
    fn client_authenticate(
        ch: &Challenge,
        user: &str,
        domain: &str,
        password: &str,
        session_key: [u8; 16],
    ) -> Vec<u8> {
        let msg = &ch.message;
        let info = field(msg, 40).unwrap().to_vec();
        let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
        temp.extend_from_slice(&[0; 8]);
        temp.extend_from_slice(&[0x11; 8]);
        temp.extend_from_slice(&[0; 4]);
        temp.extend_from_slice(&info);
        temp.extend_from_slice(&[0; 4]);
        let key = ntowf_v2(password, user, domain);
        let proof = hmac_md5(&key, &[&ch.server_challenge, &temp]);
        let base = hmac_md5(&key, &[&proof]);
        let enc = rc4_once(&base, &session_key);
        let mut nt = proof.to_vec();
        nt.extend_from_slice(&temp);
        let fields: Vec<Vec<u8>> = vec![
            vec![0; 24],
            nt,
            utf16le(domain),
            utf16le(user),
            utf16le("WS"),
            enc,
        ];
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&3u32.to_le_bytes());
        let mut off = 64u32 + 8 + 16;
        let mut payload = Vec::new();
        let mut heads = Vec::new();
        for f in &fields {
            heads.extend_from_slice(&(f.len() as u16).to_le_bytes());
            heads.extend_from_slice(&(f.len() as u16).to_le_bytes());
            heads.extend_from_slice(&off.to_le_bytes());
            off += f.len() as u32;
            payload.extend_from_slice(f);
        }
        m.extend_from_slice(&heads);
        m.extend_from_slice(&ch.flags.to_le_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&[0; 16]);
        m.extend_from_slice(&payload);
        m
    }

    #[test]
    fn round_trip_auth_and_seal() {
        let flags = 0xe288_8237;
        let ch = challenge(&negotiate_msg(flags), "host", [7; 8], 1).unwrap();
        assert_eq!(message_type(&ch.message).unwrap().0, 2);
        let users = vec![("Packer".to_string(), "pw".to_string())];
        let auth = client_authenticate(&ch, "packer", "", "pw", [9; 16]);
        let mut ok = authenticate(&ch, &auth, &users).unwrap();
        assert_eq!(ok.user, "Packer");
        let bad = client_authenticate(&ch, "packer", "", "nope", [9; 16]);
        assert!(authenticate(&ch, &bad, &users).is_err());
        let other = client_authenticate(&ch, "root", "", "pw", [9; 16]);
        assert!(authenticate(&ch, &other, &users).is_err());
        assert!(authenticate(&ch, b"garbage", &users).is_err());
        assert!(authenticate(&ch, &auth[..40], &users).is_err());

        // A client-side session: the same keys with the directions swapped.
        let mut client = Session::new(&[9; 16], ch.flags);
        std::mem::swap(&mut client.server_sign, &mut client.client_sign);
        std::mem::swap(&mut client.server_seal, &mut client.client_seal);
        for text in [&b"first"[..], b"second message"] {
            let (sig, sealed) = client.seal(text);
            assert_eq!(ok.session.unseal(&sealed, &sig).unwrap(), text);
        }
        let (sig, mut sealed) = client.seal(b"tampered");
        sealed[0] ^= 1;
        assert!(ok.session.unseal(&sealed, &sig).is_err());
    }
}
