//! File capabilities as `%caps` and setcap(8) write them (`cap_net_bind_service=ep`), checked
//! before they go into `FILECAPS`, where rpm would refuse them only at install time.
//!
//! The text is clauses separated by spaces; a clause is a list of capability names separated by
//! commas (or `all`, or nothing before `=`), then one or more operators (`=`, `+`, `-`), each
//! followed by flags among `e`, `i`, `p`.

/// The capabilities Linux knows, by their names without `cap_`.
const NAMES: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Checks a capability text; the error says which part is wrong.
pub fn validate(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("no capability given".into());
    }
    for clause in text.split_whitespace() {
        let Some(op) = clause.find(['=', '+', '-']) else {
            return Err(format!("`{clause}` has no `=`, `+` or `-` followed by flags (e, i, p)"));
        };
        let (names, actions) = clause.split_at(op);
        if names.is_empty() && !actions.starts_with('=') {
            return Err(format!("`{clause}` names no capability"));
        }
        if !names.is_empty() && !names.eq_ignore_ascii_case("all") {
            for name in names.split(',') {
                let lower = name.to_ascii_lowercase();
                let known = lower.strip_prefix("cap_").is_some_and(|n| NAMES.contains(&n));
                if !known {
                    return Err(format!("`{name}` is not a Linux capability"));
                }
            }
        }
        let mut last = ' ';
        for c in actions.chars() {
            match c {
                '=' | '+' | '-' if matches!(last, '+' | '-') => {
                    return Err(format!("`{clause}`: `{last}` needs flags (e, i, p) before `{c}`"))
                }
                '=' | '+' | '-' | 'e' | 'i' | 'p' => {}
                _ => return Err(format!("`{c}` in `{clause}` is neither an operator (=, +, -) nor a flag (e, i, p)")),
            }
            last = c;
        }
        if actions.ends_with(['+', '-']) {
            return Err(format!("`{clause}` ends with an operator without flags"));
        }
    }
    Ok(())
}

/// The text as stored: clauses separated by one space, names in lower case.
pub fn normalize(text: &str) -> String {
    text.split_whitespace().map(str::to_ascii_lowercase).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setcap_texts_are_accepted() {
        for ok in ["cap_net_bind_service=ep", "CAP_NET_RAW,cap_net_admin+ep", "all=ep", "=ep cap_kill-e", "cap_bpf=p"] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        assert_eq!(normalize("  CAP_NET_RAW+ep   cap_kill=i "), "cap_net_raw+ep cap_kill=i");
    }

    #[test]
    fn wrong_texts_say_what_is_wrong() {
        let err = |t: &str| validate(t).unwrap_err();
        assert!(err("cap_no_such_thing=ep").contains("`cap_no_such_thing` is not a Linux capability"));
        assert!(err("cap_net_raw").contains("no `=`"));
        assert!(err("+ep").contains("names no capability"));
        assert!(err("cap_net_raw=ex").contains("`x`"));
        assert!(err("cap_net_raw=e+").contains("without flags"));
        assert!(err("").contains("no capability"));
    }
}
