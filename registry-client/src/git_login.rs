//! Logging in to private git repositories the way git and cargo do: an SSH
//! key from `ssh-agent` for SSH URLs, git's configured credential helpers
//! (`credential.helper`) for HTTPS, and each way tried once per connection,
//! so a refused login ends with a message that says what to set up instead
//! of libgit2 asking again forever.

use git2::{Config, Cred, CredentialType, RemoteCallbacks};

/// Callbacks that answer libgit2's requests for credentials.
pub(crate) fn callbacks<'a>() -> RemoteCallbacks<'a> {
    let mut tried = Tried::default();
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |url, username_from_url, allowed| {
        tried.next(url, username_from_url, allowed)
    });
    callbacks
}

/// The ways already tried on this connection.
#[derive(Default)]
struct Tried {
    agent: bool,
    helper: bool,
    username: bool,
}

impl Tried {
    fn next(
        &mut self,
        url: &str,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        // SSH asks for the user name first when the URL has none.
        if allowed.contains(CredentialType::USERNAME) && !self.username {
            self.username = true;
            return Cred::username(username_from_url.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            if !self.agent {
                self.agent = true;
                return Cred::ssh_key_from_agent(username_from_url.unwrap_or("git"));
            }
            return Err(git2::Error::from_str(
                "the server did not accept any SSH key that ssh-agent offered: \
                 start ssh-agent and add your key (`ssh-add`), or use an https:// URL \
                 with a git credential helper",
            ));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if !self.helper {
                self.helper = true;
                if let Some(login) = Config::open_default().ok().and_then(|config| {
                    Cred::credential_helper(&config, url, username_from_url).ok()
                }) {
                    return Ok(login);
                }
                return Err(git2::Error::from_str(
                    "the server asked for a login and no git credential helper gave one: \
                     configure one (e.g. `git config --global credential.helper store`, then \
                     log in once with `git clone`), or use an SSH URL with a key in ssh-agent",
                ));
            }
            return Err(git2::Error::from_str(
                "the server refused the login that git's credential helper gave: \
                 update the stored credentials (e.g. `git credential reject`, then log in again)",
            ));
        }
        Err(git2::Error::from_str(
            "the server asked for a kind of login scopectl does not offer \
             (it offers SSH keys from ssh-agent and git credential helpers)",
        ))
    }
}
