//! The `org.opencontainers.image.*` labels that say where an image comes from:
//! from flags, else from git when run in a checkout, else from the CI's
//! variables (GitLab, GitHub). Credentials in a remote URL are never kept.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

pub const SOURCE: &str = "org.opencontainers.image.source";
pub const REVISION: &str = "org.opencontainers.image.revision";
pub const VERSION: &str = "org.opencontainers.image.version";
pub const CREATED: &str = "org.opencontainers.image.created";

/// Fills the keys `given` lacks; `created` is the image's own time stamp.
pub fn fill(
    given: &BTreeMap<String, String>,
    created: &str,
    checkout: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(checkout)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    let ci_source = || match (
        env("CI_PROJECT_URL"),
        env("GITHUB_SERVER_URL"),
        env("GITHUB_REPOSITORY"),
    ) {
        (Some(url), _, _) => Some(url),
        (None, Some(server), Some(repo)) => {
            Some(format!("{}/{repo}", server.trim_end_matches('/')))
        }
        _ => None,
    };
    let ci_version = || {
        env("CI_COMMIT_TAG").or_else(|| {
            env("GITHUB_REF_NAME").filter(|_| env("GITHUB_REF_TYPE").as_deref() == Some("tag"))
        })
    };
    let find = |key: &str| match key {
        SOURCE => git(&["remote", "get-url", "origin"])
            .and_then(|u| public_url(&u))
            .or_else(ci_source),
        REVISION => git(&["rev-parse", "HEAD"])
            .or_else(|| env("CI_COMMIT_SHA"))
            .or_else(|| env("GITHUB_SHA")),
        VERSION => git(&["describe", "--tags", "--exact-match", "HEAD"]).or_else(ci_version),
        _ => Some(created.to_string()),
    };
    for key in [SOURCE, REVISION, VERSION, CREATED] {
        if let Some(value) = given.get(key).cloned().or_else(|| find(key)) {
            labels.insert(key.to_string(), value);
        }
    }
    labels
}

/// A git remote as a browsable https URL, without credentials:
/// `git@host:o/r.git` and `https://user:token@host/o/r.git` both become
/// `https://host/o/r`.
pub fn public_url(remote: &str) -> Option<String> {
    let remote = remote.trim();
    let (host, path) = if let Some(rest) = remote
        .strip_prefix("https://")
        .or_else(|| remote.strip_prefix("http://"))
    {
        let (authority, path) = rest.split_once('/')?;
        (
            authority.rsplit_once('@').map_or(authority, |(_, h)| h),
            path,
        )
    } else if let Some(rest) = remote.strip_prefix("ssh://") {
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        (host.split_once(':').map_or(host, |(h, _)| h), path)
    } else {
        // scp-like: [user@]host:path
        let (authority, path) = remote.split_once(':')?;
        (
            authority.rsplit_once('@').map_or(authority, |(_, h)| h),
            path,
        )
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    (!host.is_empty() && !path.is_empty() && !host.contains('/'))
        .then(|| format!("https://{host}/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_become_public_urls_without_secrets() {
        assert_eq!(
            public_url("git@github.com:o/r.git").as_deref(),
            Some("https://github.com/o/r")
        );
        assert_eq!(
            public_url("https://gitlab-ci-token:glcbt-SECRET@gitlab.com/group/proj.git").as_deref(),
            Some("https://gitlab.com/group/proj")
        );
        assert_eq!(
            public_url("ssh://git@host:2222/o/r.git").as_deref(),
            Some("https://host/o/r")
        );
        assert_eq!(public_url("/local/path"), None);
    }

    #[test]
    fn ci_variables_when_there_is_no_git() {
        let not_a_checkout = tempfile::tempdir().unwrap();
        let gitlab = |k: &str| match k {
            "CI_PROJECT_URL" => Some("https://gitlab.com/g/p".to_string()),
            "CI_COMMIT_SHA" => Some("abc123".to_string()),
            "CI_COMMIT_TAG" => Some("v1.2.3".to_string()),
            _ => None,
        };
        let labels = fill(
            &BTreeMap::new(),
            "1970-01-01T00:00:00Z",
            not_a_checkout.path(),
            &gitlab,
        );
        let given = BTreeMap::from([(REVISION.to_string(), "flag".to_string())]);
        let flagged = fill(
            &given,
            "1970-01-01T00:00:00Z",
            not_a_checkout.path(),
            &gitlab,
        );
        assert_eq!(labels[SOURCE], "https://gitlab.com/g/p");
        assert_eq!(labels[REVISION], "abc123");
        assert_eq!(labels[VERSION], "v1.2.3");
        assert_eq!(flagged[REVISION], "flag");
    }
}
