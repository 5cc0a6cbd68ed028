//! IP network functions: cidrhost, cidrnetmask, cidrsubnet, cidrsubnets (IPv4 and IPv6).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{arg_err, arg_int, arg_str, call_err, p, FuncCtx, FuncResult, Function};
use crate::value::{Type, Value};

pub(super) fn register(v: &mut Vec<Function>) {
    let s = |n| p(n, Type::String);
    let n = |n| p(n, Type::Number);
    v.push(Function::new(
        "cidrhost",
        vec![s("prefix"), n("hostnum")],
        Type::String,
        cidrhost,
    ));
    v.push(Function::new(
        "cidrnetmask",
        vec![s("prefix")],
        Type::String,
        cidrnetmask,
    ));
    v.push(Function::new(
        "cidrsubnet",
        vec![s("prefix"), n("newbits"), n("netnum")],
        Type::String,
        cidrsubnet,
    ));
    v.push(
        Function::new(
            "cidrsubnets",
            vec![s("prefix")],
            Type::list(Type::String),
            cidrsubnets,
        )
        .variadic(n("newbits")),
    );
}

/// A network: its (masked) address, the address width (32 or 128) and the prefix length.
#[derive(Clone, Copy, Debug)]
struct Net {
    addr: u128,
    bits: u32,
    prefix: u32,
}

fn mask(bits: u32, prefix: u32) -> u128 {
    let all = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if prefix == 0 {
        0
    } else if prefix >= bits {
        all
    } else {
        all & !(all >> prefix)
    }
}

/// Go's `net.ParseCIDR`.
fn parse_cidr(s: &str) -> Result<Net, String> {
    let bad = || format!("invalid CIDR address: {s}");
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let (addr, bits) = if let Ok(v4) = ip.parse::<Ipv4Addr>() {
        (u128::from(u32::from(v4)), 32)
    } else if ip.contains(':') {
        let v6 = ip.parse::<Ipv6Addr>().map_err(|_| bad())?;
        (u128::from(v6), 128)
    } else {
        return Err(bad());
    };
    if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let prefix: u32 = len.parse().map_err(|_| bad())?;
    if prefix > bits {
        return Err(bad());
    }
    Ok(Net {
        addr: addr & mask(bits, prefix),
        bits,
        prefix,
    })
}

fn ip_string(addr: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(addr as u32).to_string()
    } else {
        let v6 = Ipv6Addr::from(addr);
        match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        }
    }
}

fn net_string(n: &Net) -> String {
    format!("{}/{}", ip_string(n.addr, n.bits), n.prefix)
}

fn cidr_arg(a: &[Value]) -> Result<Net, String> {
    parse_cidr(arg_str(a, 0)).map_err(|e| format!("invalid CIDR expression: {e}"))
}

fn cidrhost(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let num = arg_int(a, 1).map_err(call_err)?;
    let net = cidr_arg(a).map_err(call_err)?;
    let host_len = net.bits - net.prefix;
    let max: u128 = if host_len >= 128 {
        u128::MAX
    } else {
        (1u128 << host_len) - 1
    };
    let n: u128 = if num < 0 {
        let back = u128::from(num.unsigned_abs()) - 1;
        if back > max {
            return Err(call_err(format!(
                "prefix of {} does not accommodate a host numbered {num}",
                net.prefix
            )));
        }
        max - back
    } else {
        let n = u128::from(num.unsigned_abs());
        if n > max {
            return Err(call_err(format!(
                "prefix of {} does not accommodate a host numbered {num}",
                net.prefix
            )));
        }
        n
    };
    Ok(Value::string(ip_string(net.addr | n, net.bits)))
}

fn cidrnetmask(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let net = cidr_arg(a).map_err(call_err)?;
    Ok(Value::string(ip_string(
        mask(net.bits, net.prefix),
        net.bits,
    )))
}

fn subnet(net: &Net, newbits: i64, num: i64) -> Result<Net, String> {
    let new_prefix = i64::from(net.prefix) + newbits;
    if newbits < 0 || new_prefix > i64::from(net.bits) {
        return Err(format!(
            "insufficient address space to extend prefix of {} by {newbits}",
            net.prefix
        ));
    }
    let max: u128 = if newbits >= 64 {
        u128::from(u64::MAX)
    } else {
        (1u128 << newbits) - 1
    };
    if num < 0 || u128::from(num.unsigned_abs()) > max {
        return Err(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {num}"
        ));
    }
    let new_prefix = new_prefix as u32;
    let shift = net.bits - new_prefix;
    let n = u128::from(num.unsigned_abs());
    let addr = if shift >= 128 {
        net.addr
    } else {
        net.addr | (n << shift)
    };
    Ok(Net {
        addr,
        bits: net.bits,
        prefix: new_prefix,
    })
}

fn cidrsubnet(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let newbits = arg_int(a, 1).map_err(call_err)?;
    let netnum = arg_int(a, 2).map_err(call_err)?;
    let net = cidr_arg(a).map_err(call_err)?;
    if newbits > 32 {
        return Err(call_err("may not extend prefix by more than 32 bits"));
    }
    subnet(&net, newbits, netnum)
        .map(|n| Value::string(net_string(&n)))
        .map_err(call_err)
}

fn cidrsubnets(_: &FuncCtx, a: &[Value]) -> FuncResult {
    let net = cidr_arg(a).map_err(|e| arg_err(0, e))?;
    let lens = a.get(1..).unwrap_or(&[]);
    if lens.is_empty() {
        return Ok(Value::list(Type::String, vec![]));
    }
    let first = arg_int(a, 1).map_err(|e| arg_err(1, e))?;
    let width_max = if net.bits == 128 {
        u128::MAX
    } else {
        (1u128 << net.bits) - 1
    };
    let net_end = net.addr | (width_max & !mask(net.bits, net.prefix));
    // The subnet of the first size just before the network: what "after ..." names first.
    let first_len = u32::try_from(first.saturating_add(i64::from(net.prefix)))
        .unwrap_or(0)
        .min(net.bits);
    let first_shift = net.bits - first_len;
    let mut current = Net {
        addr: if first_shift >= 128 {
            0
        } else {
            net.addr.wrapping_sub(1u128 << first_shift) & width_max
        },
        bits: net.bits,
        prefix: first_len,
    };
    let mut next_start: Option<u128> = Some(net.addr);
    let mut out = Vec::new();
    for i in 0..lens.len() {
        let len = arg_int(a, i + 1).map_err(|e| arg_err(i + 1, e))?;
        if len < 1 {
            return Err(arg_err(i + 1, "must extend prefix by at least one bit"));
        }
        if len > 32 {
            return Err(arg_err(i + 1, "may not extend prefix by more than 32 bits"));
        }
        let length = len + i64::from(net.prefix);
        if length > i64::from(net.bits) {
            let proto = if net.bits == 32 { "IPv4" } else { "IPv6" };
            return Err(arg_err(
                i + 1,
                format!(
                    "would extend prefix to {length} bits, which is too long for an {proto} address"
                ),
            ));
        }
        let length = length as u32;
        let shift = net.bits - length;
        let m = if shift >= 128 {
            u128::MAX
        } else {
            (1u128 << shift) - 1
        };
        let aligned = next_start.and_then(|s| {
            if s & m == 0 {
                Some(s)
            } else {
                (s | m).checked_add(1)
            }
        });
        let aligned = match aligned {
            Some(x) if x >= net.addr && x <= net_end => x,
            _ => {
                return Err(arg_err(
                    i + 1,
                    format!(
                        "not enough remaining address space for a subnet with a prefix of {length} bits after {}",
                        net_string(&current)
                    ),
                ))
            }
        };
        current = Net {
            addr: aligned,
            bits: net.bits,
            prefix: length,
        };
        out.push(Value::string(net_string(&current)));
        next_start = aligned
            .checked_add(m)
            .and_then(|x| x.checked_add(1))
            .filter(|x| *x <= width_max);
    }
    Ok(Value::list(Type::String, out))
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{call_err_detail, call_ok};

    #[test]
    fn v4() {
        assert_eq!(call_ok(r#"cidrhost("10.0.0.0/24", 5)"#), "10.0.0.5");
        assert_eq!(call_ok(r#"cidrhost("10.0.0.0/24", -1)"#), "10.0.0.255");
        assert_eq!(call_ok(r#"cidrnetmask("172.16.0.0/12")"#), "255.240.0.0");
        assert_eq!(call_ok(r#"cidrsubnet("10.0.0.0/8", 8, 2)"#), "10.2.0.0/16");
        assert_eq!(
            call_ok(r#"cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)"#),
            "[\n  \"10.1.0.0/20\",\n  \"10.1.16.0/20\",\n  \"10.1.32.0/24\",\n  \"10.1.48.0/20\",\n]"
        );
        assert_eq!(
            call_err_detail(r#"cidrhost("10.0.0.0/30", 5)"#),
            "Call to function \"cidrhost\" failed: prefix of 30 does not accommodate a host numbered 5."
        );
        assert_eq!(
            call_err_detail(r#"cidrhost("x", 1)"#),
            "Call to function \"cidrhost\" failed: invalid CIDR expression: invalid CIDR address: x."
        );
        assert_eq!(
            call_err_detail(r#"cidrsubnets("10.0.0.0/24", 1, 2, 30)"#),
            "Invalid value for \"newbits\" parameter: would extend prefix to 54 bits, which is too long for an IPv4 address."
        );
    }

    #[test]
    fn v6() {
        assert_eq!(call_ok(r#"cidrnetmask("fe80::/10")"#), "ffc0::");
        assert_eq!(call_ok(r#"cidrhost("fd00::1/128", 0)"#), "fd00::1");
        assert_eq!(
            call_ok(r#"cidrnetmask("::/128")"#),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(call_ok(r#"cidrsubnet("::/0", 32, 1)"#), "0:1::/32");
        assert_eq!(call_ok(r#"cidrhost("fd00::/64", 16)"#), "fd00::10");
        assert_eq!(
            call_ok(r#"cidrsubnet("fd00::/56", 8, 1)"#),
            "fd00:0:0:1::/64"
        );
    }
}
