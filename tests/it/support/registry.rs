//! A real OCI registry (Debian's `docker-registry`, the CNCF distribution
//! registry) on loopback, and `scopectl` on a second home.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{output, stderr, TestContext};

/// A registry with its storage in a temporary directory, on a free port.
pub struct Registry {
    child: Child,
    pub address: String,
    _storage: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with("")
    }

    /// A registry that wants user `ci`, password `secret`.
    pub fn with_password() -> Registry {
        let hashed = output(Command::new("python3").args([
            "-c",
            "import crypt; print('ci:' + crypt.crypt('secret', crypt.mksalt(crypt.METHOD_BLOWFISH)))",
        ]));
        assert!(hashed.status.success(), "{}", stderr(&hashed));
        let file = tempfile::NamedTempFile::new().unwrap();
        fs_err::write(file.path(), &hashed.stdout).unwrap();
        let (_, path) = file.keep().unwrap();
        Registry::start_with(&format!(
            "auth:\n  htpasswd:\n    realm: scope\n    path: {}\n",
            path.display()
        ))
    }

    fn start_with(extra: &str) -> Registry {
        let found = Command::new("docker-registry").arg("--version").output();
        assert!(
            found.is_ok(),
            "these tests need Debian's docker-registry: apt-get install -y docker-registry"
        );
        let storage = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let config = storage.path().join("config.yml");
        fs_err::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n{extra}",
                storage.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&address).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            address,
            _storage: storage,
        }
    }

    pub fn reference(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.address)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scopectl` on another home of the same scratch directory, without a
/// toolchain.
pub fn elsewhere(context: &TestContext, home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scopectl"));
    command.arg("--home").arg(home);
    super::scrub(&mut command, context.temp.path());
    command.env("CARGO", "/bin/false");
    command
}
