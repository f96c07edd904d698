//! `X-Twilio-Signature`: computing and checking the signature Twilio and Somleng put on every
//! webhook (providers.md §7, scfm-api.md §12.5).
//!
//! Data = URL + `name value` for every form pair sorted by name in byte order (values of a
//! repeated name sorted too); signature = standard base64 of HMAC-SHA1(token, data). Validation
//! tries the URL as given, with the default port written out, and with any port removed (§7.2),
//! compares in constant time and fails closed on an empty token or a missing header.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// The signature the provider would send for a request to `url` with the decoded form `params`
/// (empty for GET requests and for JSON bodies: their parameters are already in the URL).
pub fn compute(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // Tuples of Strings order by name bytes, then value bytes: exactly §7.1 step 3.
    sorted.sort();
    // `new_from_slice` accepts keys of any length for HMAC, so this never fails; fall back to an
    // empty result (which matches no header) rather than panicking.
    let Ok(mut mac) = HmacSha1::new_from_slice(token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// True when `header` is a valid signature of the request for `token`.
///
/// Accepts a signature over `url` as given, over `url` with the scheme's default port written
/// out (`:443` for https, `:80` for http), or over `url` with any port removed. An empty token,
/// an absent or empty header, or a mismatch all give `false`.
pub fn validate(token: &str, url: &str, params: &[(String, String)], header: Option<&str>) -> bool {
    if token.is_empty() {
        return false;
    }
    let header = header.unwrap_or("").trim();
    if header.is_empty() {
        return false;
    }
    let mut candidates = vec![url.to_string()];
    for variant in [with_default_port(url), without_port(url)]
        .into_iter()
        .flatten()
    {
        if !candidates.contains(&variant) {
            candidates.push(variant);
        }
    }
    let mut ok = subtle::Choice::from(0u8);
    for candidate in &candidates {
        let expected = compute(token, candidate, params);
        ok |= expected.as_bytes().ct_eq(header.as_bytes());
    }
    bool::from(ok)
}

/// Where the authority (userinfo@host:port) of an absolute URL sits: (start, end) byte offsets.
fn authority_bounds(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((start, start + len))
}

/// Byte offset (within the authority) of the `:` that starts the port, if there is one.
fn port_colon(authority: &str) -> Option<usize> {
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host = &authority[host_start..];
    // IPv6 literals keep their colons inside brackets.
    let after_bracket = host.rfind(']').map_or(0, |i| i + 1);
    host[after_bracket..]
        .rfind(':')
        .map(|i| host_start + after_bracket + i)
}

fn default_port(url: &str) -> Option<&'static str> {
    let scheme = url.split("://").next()?.to_ascii_lowercase();
    match scheme.as_str() {
        "https" => Some("443"),
        "http" => Some("80"),
        _ => None,
    }
}

/// `url` with the scheme's default port written out, when it has no port yet.
fn with_default_port(url: &str) -> Option<String> {
    let (start, end) = authority_bounds(url)?;
    if port_colon(&url[start..end]).is_some() {
        return None;
    }
    let port = default_port(url)?;
    Some(format!("{}:{}{}", &url[..end], port, &url[end..]))
}

/// `url` with its port (any port) removed, when it has one.
fn without_port(url: &str) -> Option<String> {
    let (start, end) = authority_bounds(url)?;
    let colon = start + port_colon(&url[start..end])?;
    Some(format!("{}{}", &url[..colon], &url[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "scfm-test-auth-token";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn twilio_vector_params() -> Vec<(String, String)> {
        pairs(&[
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
        ])
    }

    fn example_a_params() -> Vec<(String, String)> {
        // Deliberately not in sorted order: compute() must sort.
        pairs(&[
            ("To", "+85512345678"),
            ("AccountSid", "AC00000000000000000000000000000001"),
            ("Caller", "+85510999999"),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", "CA00000000000000000000000000000002"),
            ("Called", "+85512345678"),
            ("CallStatus", "in-progress"),
            ("Digits", "1"),
            ("Direction", "outbound-api"),
            ("From", "+85510999999"),
        ])
    }

    const URL_A: &str = "https://scfm.example.org/api/remote_phone_call_events";

    #[test]
    fn twilio_published_vector() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = twilio_vector_params();
        assert_eq!(
            compute("12345", url, &params),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert_eq!(
            compute(
                "12345",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &params
            ),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        assert!(validate(
            "12345",
            url,
            &params,
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ));
        // Provider signed with :443, we rebuilt the URL without it.
        assert!(validate(
            "12345",
            url,
            &params,
            Some("kvajT1Ptam85bY51eRf/AJRuM3w=")
        ));
        // Provider signed without the port, we rebuilt it with :443.
        assert!(validate(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params,
            Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        ));
    }

    #[test]
    fn twilio_vector_json_body_url_only() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert_eq!(compute("12345", url, &[]), "a9nBmqA0ju/hNViExpshrM61xv4=");
    }

    #[test]
    fn example_a_all_four_urls() {
        let params = example_a_params();
        let cases = [
            (URL_A, "5Kp6m0XpgjoTAOWk06v3qnx+XR0="),
            (
                "https://scfm.example.org:443/api/remote_phone_call_events",
                "hA2Gs465NYAJHPbZT+OzRPby/VI=",
            ),
            (
                "http://scfm.example.org/api/remote_phone_call_events",
                "ZYmEfsOLJL3XZufAxocwyUo5430=",
            ),
            (
                "https://scfm.example.org/api/remote_phone_call_events?campaign=7",
                "cFAt+9PIMwrCVvrGln/TTKdafe4=",
            ),
        ];
        for (url, sig) in cases {
            assert_eq!(compute(TOKEN, url, &params), sig, "{url}");
            assert!(validate(TOKEN, url, &params, Some(sig)), "{url}");
        }
        // The default-port variant is accepted against the port-less URL we rebuild.
        assert!(validate(
            TOKEN,
            URL_A,
            &params,
            Some("hA2Gs465NYAJHPbZT+OzRPby/VI=")
        ));
        // http vs https are different URLs: no cross-acceptance.
        assert!(!validate(
            TOKEN,
            URL_A,
            &params,
            Some("ZYmEfsOLJL3XZufAxocwyUo5430=")
        ));
        // The query is part of the signed URL.
        assert!(!validate(
            TOKEN,
            URL_A,
            &params,
            Some("cFAt+9PIMwrCVvrGln/TTKdafe4=")
        ));
    }

    #[test]
    fn example_b_local_non_default_port() {
        let url = "http://127.0.0.1:3000/api/remote_phone_call_events";
        let params = pairs(&[
            ("AccountSid", "AC00000000000000000000000000000001"),
            ("ApiVersion", "2010-04-01"),
            ("CallDuration", "12"),
            ("CallSid", "CA00000000000000000000000000000002"),
            ("CallStatus", "completed"),
            ("CallbackSource", "call-progress-events"),
            ("Direction", "outbound-api"),
            ("From", "+85510999999"),
            ("SequenceNumber", "3"),
            ("Timestamp", "Tue, 05 Mar 2024 10:15:30 +0000"),
            ("To", "+85512345678"),
        ]);
        assert_eq!(compute(TOKEN, url, &params), "P3YdhcksIbaQs6an7SGdwYg0qPg=");
        assert!(validate(
            TOKEN,
            url,
            &params,
            Some("P3YdhcksIbaQs6an7SGdwYg0qPg=")
        ));
    }

    #[test]
    fn example_c_get_parameters_in_query() {
        let url = "https://scfm.example.org/api/remote_phone_call_events?AccountSid=AC00000000000000000000000000000001&ApiVersion=2010-04-01&CallSid=CA00000000000000000000000000000002&CallStatus=in-progress&Called=%2B85512345678&Caller=%2B85510999999&Digits=1&Direction=outbound-api&From=%2B85510999999&To=%2B85512345678";
        assert_eq!(compute(TOKEN, url, &[]), "1KguAR2YshpPJoLvQHNmod7RqiU=");
        assert!(validate(
            TOKEN,
            url,
            &[],
            Some("1KguAR2YshpPJoLvQHNmod7RqiU=")
        ));
    }

    #[test]
    fn example_d_json_body_url_signature() {
        let url = "https://scfm.example.org/hooks/json?bodySHA256=7cd5520c4a1854d72c369bd69561508feca1245898aa8e52c2a69f0bf474f3d1";
        assert_eq!(compute(TOKEN, url, &[]), "IvADkmxg1E2ChF9kwEcwlR/FuJw=");
    }

    #[test]
    fn example_e_repeated_name_values_sorted() {
        let params = pairs(&[("b", "2"), ("a", "z"), ("a", "y")]);
        assert_eq!(
            compute(TOKEN, "https://x.test/p", &params),
            "HMk0ItkxsHox4bEkjKaDjyATxdQ="
        );
    }

    #[test]
    fn wrong_token_changed_value_missing_header_fail() {
        let params = example_a_params();
        let sig = "5Kp6m0XpgjoTAOWk06v3qnx+XR0=";
        assert!(!validate("other-token", URL_A, &params, Some(sig)));
        let mut changed = params.clone();
        changed[7].1 = "2".into(); // Digits
        assert!(!validate(TOKEN, URL_A, &changed, Some(sig)));
        assert!(!validate(TOKEN, URL_A, &params, None));
        assert!(!validate(TOKEN, URL_A, &params, Some("")));
        assert!(!validate("", URL_A, &params, Some(sig)));
        // A signature computed with an empty token is still refused (fail closed).
        let empty_sig = compute("", URL_A, &params);
        assert!(!validate("", URL_A, &params, Some(&empty_sig)));
    }

    #[test]
    fn byte_order_not_case_insensitive() {
        let params = example_a_params();
        // Case-insensitive order would put Called/Caller before CallSid/CallStatus.
        let mut ci: Vec<&(String, String)> = params.iter().collect();
        ci.sort_by_key(|(k, _)| k.to_lowercase());
        let mut data = URL_A.to_string();
        for (k, v) in ci {
            data.push_str(k);
            data.push_str(v);
        }
        let mut mac = HmacSha1::new_from_slice(TOKEN.as_bytes()).expect("hmac key");
        mac.update(data.as_bytes());
        let ci_sig = STANDARD.encode(mac.finalize().into_bytes());
        assert_ne!(ci_sig, "5Kp6m0XpgjoTAOWk06v3qnx+XR0=");
        assert!(!validate(TOKEN, URL_A, &params, Some(&ci_sig)));
        // And the byte-order Data string is the documented one.
        assert!("CallSid" < "CallStatus" && "CallStatus" < "Called" && "Called" < "Caller");
        assert!("CallStatus" < "CallbackSource");
    }

    #[test]
    fn port_variants() {
        assert_eq!(
            with_default_port("https://a.test/x?y=1").as_deref(),
            Some("https://a.test:443/x?y=1")
        );
        assert_eq!(
            with_default_port("http://a.test").as_deref(),
            Some("http://a.test:80")
        );
        assert_eq!(with_default_port("http://a.test:8080/x"), None);
        assert_eq!(
            without_port("http://u:p@a.test:8080/x").as_deref(),
            Some("http://u:p@a.test/x")
        );
        assert_eq!(without_port("http://[::1]/x"), None);
        assert_eq!(
            without_port("http://[::1]:3000/x").as_deref(),
            Some("http://[::1]/x")
        );
        assert_eq!(without_port("https://a.test/x?t=1:2"), None);
    }

    #[test]
    fn any_port_stripped_is_accepted() {
        let params = example_a_params();
        // Signed without the port, checked against a URL with a non-default port.
        assert!(validate(
            TOKEN,
            "https://scfm.example.org:8443/api/remote_phone_call_events",
            &params,
            Some("5Kp6m0XpgjoTAOWk06v3qnx+XR0=")
        ));
    }
}
