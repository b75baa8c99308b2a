//! Credentials in URLs never reach a message.

/// `url` with its credentials replaced by `***`: any `user:password@`, and
/// a bare `user@` of an http(s) URL (a token). An ssh user name alone
/// (`git@host`) is not a secret and stays.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    if userinfo.contains(':') || scheme.ends_with("http") || scheme.ends_with("https") {
        format!("{scheme}://***@{}", &rest[at + 1..])
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_http_credentials_only() {
        assert_eq!(
            redact("https://me:s3cret@example.org/x.git"),
            "https://***@example.org/x.git"
        );
        assert_eq!(
            redact("sparse+https://token@registry.example.org/index/"),
            "sparse+https://***@registry.example.org/index/"
        );
        assert_eq!(redact("https://example.org/a@b"), "https://example.org/a@b");
        assert_eq!(redact("ssh://git@example.org/x"), "ssh://git@example.org/x");
        assert_eq!(redact("git@example.org:me/x"), "git@example.org:me/x");
        assert_eq!(
            redact("ssh://me:pw@example.org/x"),
            "ssh://***@example.org/x"
        );
    }
}
