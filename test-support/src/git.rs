use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Signature};

/// A local git repository for tests: write files, commit, branch, tag,
/// move a tag.
pub struct GitRepo {
    dir: PathBuf,
    repo: Repository,
}

impl GitRepo {
    /// A new repository in `dir` whose default branch is `main`.
    pub fn init(dir: &Path) -> GitRepo {
        fs_err::create_dir_all(dir).unwrap();
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        let repo = Repository::init_opts(dir, &options).expect("git init");
        GitRepo {
            dir: dir.to_owned(),
            repo,
        }
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `file://` URL of the repository.
    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Writes a file in the working directory.
    pub fn write(&self, path: &str, contents: &str) -> &GitRepo {
        let full = self.dir.join(path);
        fs_err::create_dir_all(full.parent().unwrap()).unwrap();
        fs_err::write(full, contents).unwrap();
        self
    }

    /// Commits every file on the current branch.
    pub fn commit(&self, message: &str) -> Oid {
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let signature = Signature::now("Scope Tests", "tests@example.org").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                message,
                &tree,
                &parents,
            )
            .unwrap()
    }

    /// Creates or moves the lightweight tag `name` to `commit`.
    pub fn tag(&self, name: &str, commit: Oid) {
        let object = self.repo.find_object(commit, None).unwrap();
        self.repo.tag_lightweight(name, &object, true).unwrap();
    }

    /// Creates or moves the branch `name` to `commit`.
    pub fn branch(&self, name: &str, commit: Oid) {
        let commit = self.repo.find_commit(commit).unwrap();
        self.repo.branch(name, &commit, true).unwrap();
    }

    /// Makes `name` the current branch (the working files are not touched).
    pub fn switch(&self, name: &str) {
        self.repo.set_head(&format!("refs/heads/{name}")).unwrap();
    }
}
