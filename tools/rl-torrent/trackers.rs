//! Trackers and web seeds as mktorrent takes them: each `-a` is one tier, URLs separated by commas
//! inside it share the tier; `-w` adds web seeds (BEP 19). A URL that is not `scheme://host…` is
//! an error before anything is hashed: a typo would otherwise ship in every release torrent.

/// Tiers of tracker URLs from the `-a` values, each URL checked.
pub fn tiers(announce: &[String]) -> Result<Vec<Vec<String>>, String> {
    announce
        .iter()
        .map(|arg| {
            arg.split(',')
                .map(|u| checked(u.trim(), &["http", "https", "udp", "ws", "wss"], "tracker"))
                .collect()
        })
        .collect()
}

/// Web seed URLs from the `-w` values (commas separate several in one value).
pub fn web_seeds(args: &[String]) -> Result<Vec<String>, String> {
    args.iter()
        .flat_map(|a| a.split(','))
        .map(|u| checked(u.trim(), &["http", "https", "ftp"], "web seed"))
        .collect()
}

fn checked(url: &str, schemes: &[&str], what: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("invalid {what} URL '{url}': {why}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("it has no scheme:// (e.g. http://tracker.example/announce)");
    };
    if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
        return bad(&format!("the scheme must be one of {}", schemes.join(", ")));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    if name.is_empty() {
        return bad("it has no host");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains white space");
    }
    if let Some(port) = host.rsplit_once("]:").map(|(_, p)| p).or_else(|| {
        (!host.starts_with('['))
            .then(|| host.split_once(':').map(|(_, p)| p))
            .flatten()
    }) && port.parse::<u16>().is_err()
    {
        return bad("the port is not a number from 0 to 65535");
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_mktorrent_and_bad_urls_are_refused() {
        let t = tiers(&[
            "http://a/x,udp://b:6969/announce".into(),
            "https://c/".into(),
        ])
        .unwrap();
        assert_eq!(
            t,
            [
                vec!["http://a/x", "udp://b:6969/announce"],
                vec!["https://c/"]
            ]
        );
        assert!(tiers(&["http://[::1]:80/a".into()]).is_ok());
        for bad in [
            "tracker.example/announce",
            "ftp://a/",
            "http:///x",
            "http://a:port/",
            "http://a b/",
        ] {
            let e = tiers(&[bad.into()]).unwrap_err();
            assert!(e.starts_with("invalid tracker URL"), "{bad}: {e}");
        }
        assert_eq!(
            web_seeds(&["http://w1/,https://w2/".into()]).unwrap().len(),
            2
        );
        assert!(web_seeds(&["udp://w/".into()]).is_err());
    }
}
