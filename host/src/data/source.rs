//! What a run's data is: the built-in MNIST, a directory of IDX files, or Omniglot's
//! `chardata.mat`, and how `--data` spells them.
//!
//! `--data DIR` is an IDX directory, `--data omniglot:PATH` the Omniglot MAT-file at `PATH`,
//! and no `--data` the built-in MNIST. A run's configuration (and so its checkpoint) keeps the
//! argument made absolute ([`Source::absolute`]), so `rebar eval` and `rebar sample` reload the
//! same data through [`Source::from_arg`] from any directory, and a resume that spells the
//! same folder otherwise is the same run.
//!
//! ```
//! use std::path::{Path, PathBuf};
//! use rebar_host::data::Source;
//!
//! let omniglot = Source::from_arg(Some(Path::new("omniglot:data/chardata.mat")));
//! assert_eq!(omniglot, Source::Omniglot(PathBuf::from("data/chardata.mat")));
//! assert_eq!(omniglot.to_string(), "omniglot:data/chardata.mat");
//! assert_eq!(Source::from_arg(Some(Path::new("fashion"))), Source::Idx(PathBuf::from("fashion")));
//! assert_eq!(Source::from_arg(None), Source::Builtin);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use super::{Binarize, DataError, Dataset, MNIST_SEED, OMNIGLOT_SEED};

/// The prefix of `--data` that names an Omniglot MAT-file rather than an IDX directory. (An
/// IDX directory whose name starts so can be given as `./omniglot:…`.)
pub const OMNIGLOT_PREFIX: &str = "omniglot:";

/// Where a run's images come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The statically binarized MNIST built into the binary ([`Dataset::builtin`]).
    Builtin,
    /// A directory of the four MNIST-named IDX files ([`Dataset::from_idx_dir`]).
    Idx(PathBuf),
    /// Omniglot's `chardata.mat` ([`Dataset::from_omniglot_mat`]).
    Omniglot(PathBuf),
}

impl Source {
    /// The source a `--data` argument names (`None`: no `--data`). A (UTF-8) argument starting
    /// with [`OMNIGLOT_PREFIX`] is Omniglot, any other an IDX directory.
    pub fn from_arg(arg: Option<&Path>) -> Source {
        let Some(arg) = arg else { return Source::Builtin };
        match arg.to_str().and_then(|s| s.strip_prefix(OMNIGLOT_PREFIX)) {
            Some(file) => Source::Omniglot(PathBuf::from(file)),
            None => Source::Idx(arg.to_path_buf()),
        }
    }

    /// The same source with an absolute path: canonical (symbolic links and `..` resolved) if
    /// it exists, else joined to the current directory. The built-in data is itself.
    pub fn absolute(&self) -> Source {
        let resolve =
            |p: &Path| p.canonicalize().or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_path_buf());
        match self {
            Source::Builtin => Source::Builtin,
            Source::Idx(dir) => Source::Idx(resolve(dir)),
            Source::Omniglot(file) => Source::Omniglot(resolve(file)),
        }
    }

    /// The `--data` argument that names this source (`None` for the built-in data): the
    /// inverse of [`Source::from_arg`].
    pub fn to_arg(&self) -> Option<PathBuf> {
        match self {
            Source::Builtin => None,
            Source::Idx(dir) => Some(dir.clone()),
            Source::Omniglot(file) => {
                let mut arg = std::ffi::OsString::from(OMNIGLOT_PREFIX);
                arg.push(file);
                Some(PathBuf::from(arg))
            }
        }
    }

    /// The static binarization a run on this source uses: the built-in and IDX data's
    /// [`MNIST_SEED`], Omniglot's [`OMNIGLOT_SEED`] (the REBAR reference's).
    pub fn static_binarization(&self) -> Binarize {
        match self {
            Source::Builtin | Source::Idx(_) => Binarize::Static { seed: MNIST_SEED },
            Source::Omniglot(_) => Binarize::Static { seed: OMNIGLOT_SEED },
        }
    }

    /// Loads the dataset, binarized as `binarize` says (the built-in MNIST is static whatever
    /// `binarize` is).
    pub fn load(&self, binarize: Binarize) -> Result<Dataset, DataError> {
        match self {
            Source::Builtin => Dataset::builtin(),
            Source::Idx(dir) => Dataset::from_idx_dir(dir, binarize),
            Source::Omniglot(file) => Dataset::from_omniglot_mat(file, binarize),
        }
    }

    /// How a run's summary describes `binarize` on this source, e.g. `static, seed 0x…` or
    /// `dynamic`.
    pub fn describe(&self, binarize: Binarize) -> String {
        match (self, binarize) {
            (Source::Builtin, _) => format!("static, seed {MNIST_SEED:#x}"),
            (_, Binarize::Dynamic) => "dynamic".into(),
            (Source::Idx(_), Binarize::Static { seed }) => format!("static, seed {seed:#x}"),
            (Source::Omniglot(_), Binarize::Static { seed }) => format!("static, numpy RandomState seed {seed}"),
        }
    }
}

/// `builtin`, the IDX directory, or `omniglot:` and the file: what `--data` says.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin => f.write_str("builtin"),
            Source::Idx(dir) => write!(f, "{}", dir.display()),
            Source::Omniglot(file) => write!(f, "{OMNIGLOT_PREFIX}{}", file.display()),
        }
    }
}
