//! Finding a path in a stack of layer indexes, with overlay semantics.
//!
//! The stack is searched from the top; the first layer that has the path, a
//! whiteout of it, or an opaque or non-directory ancestor decides. Symlinks, in
//! the path or in its parents, are followed inside the image root as a chroot
//! would (`..` at the root stays at the root), at most [`MAX_SYMLINKS`] times.
//! Layers are indexed lazily: a lookup that must look below the indexed layers
//! says so ([`Resolution::NeedLayer`]) instead of guessing.

use std::collections::VecDeque;
use std::fmt;

use crate::index::{LayerIndex, Node};

/// Linux's limit on symlinks followed in one path resolution.
pub const MAX_SYMLINKS: usize = 40;

/// Why a path is not in the image, naming the layer that decided it: its
/// position from the top (0) in a [`Resolution`], a
/// [`LayerRef`](crate::LayerRef) in a [`LayerError`](crate::LayerError).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Absence<L = usize> {
    NeverExisted,
    WhitedOut { layer: L },
    ParentWhitedOut { layer: L, parent: String },
    HiddenByOpaqueDir { layer: L, dir: String },
    ParentNotDirectory { layer: L, parent: String },
}

impl<L> Absence<L> {
    /// The same absence, its layer named another way.
    pub fn map_layer<M>(self, name: impl FnOnce(L) -> M) -> Absence<M> {
        match self {
            Absence::NeverExisted => Absence::NeverExisted,
            Absence::WhitedOut { layer } => Absence::WhitedOut { layer: name(layer) },
            Absence::ParentWhitedOut { layer, parent } => Absence::ParentWhitedOut {
                layer: name(layer),
                parent,
            },
            Absence::HiddenByOpaqueDir { layer, dir } => Absence::HiddenByOpaqueDir {
                layer: name(layer),
                dir,
            },
            Absence::ParentNotDirectory { layer, parent } => Absence::ParentNotDirectory {
                layer: name(layer),
                parent,
            },
        }
    }
}

impl<L: fmt::Display> fmt::Display for Absence<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Absence::NeverExisted => write!(f, "no layer has it"),
            Absence::WhitedOut { layer } => write!(f, "deleted by {layer} (whiteout)"),
            Absence::ParentWhitedOut { layer, parent } => {
                write!(
                    f,
                    "its directory /{parent} was deleted by {layer} (whiteout)"
                )
            }
            Absence::HiddenByOpaqueDir { layer, dir } => {
                write!(f, "/{dir} was replaced by {layer} (opaque directory)")
            }
            Absence::ParentNotDirectory { layer, parent } => {
                write!(f, "/{parent} is not a directory in {layer}")
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A layer below those indexed so far must be read; `path` is where the
    /// resolution stands, a good guess of which file to copy on the way.
    NeedLayer {
        path: String,
    },
    Found {
        path: String,
        layer: usize,
        node: Node,
        symlinks: Vec<String>,
    },
    Missing {
        path: String,
        absence: Absence,
    },
    NotADirectory {
        path: String,
        layer: usize,
    },
    IsDirectory {
        path: String,
    },
    SymlinkLoop {
        path: String,
        symlinks: Vec<String>,
    },
}

enum Exact<'a> {
    Found(usize, &'a Node),
    Absent(Absence),
    NeedLayer,
}

/// The decision of the first layer, from the top, that decides `path`.
fn lookup_exact<'a>(layers: &'a [LayerIndex], total: usize, path: &str) -> Exact<'a> {
    let ancestors: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
    for i in 0..total {
        let Some(layer) = layers.get(i) else {
            return Exact::NeedLayer;
        };
        if let Some(node) = layer.entries.get(path) {
            return Exact::Found(i, node);
        }
        if layer.whiteouts.contains(path) {
            return Exact::Absent(Absence::WhitedOut { layer: i });
        }
        for parent in &ancestors {
            let parent = parent.to_string();
            if layer.whiteouts.contains(&parent) {
                return Exact::Absent(Absence::ParentWhitedOut { layer: i, parent });
            }
            if layer.entries.get(&parent).is_some_and(|n| *n != Node::Dir) {
                return Exact::Absent(Absence::ParentNotDirectory { layer: i, parent });
            }
            if layer.opaque.contains(&parent) {
                return Exact::Absent(Absence::HiddenByOpaqueDir {
                    layer: i,
                    dir: parent,
                });
            }
        }
    }
    Exact::Absent(Absence::NeverExisted)
}

/// Resolves `path` (absolute or relative to the root) to the node that a
/// process in the container would open, following every symlink.
pub fn resolve(layers: &[LayerIndex], total: usize, path: &str) -> Resolution {
    let mut pending: VecDeque<String> = path.split('/').map(str::to_string).collect();
    let mut current: Vec<String> = Vec::new();
    let mut symlinks = Vec::new();
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        current.push(part);
        let candidate = current.join("/");
        match lookup_exact(layers, total, &candidate) {
            Exact::NeedLayer => {
                let rest: Vec<String> = pending.into_iter().filter(|p| !p.is_empty()).collect();
                let path = current
                    .iter()
                    .chain(&rest)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("/");
                return Resolution::NeedLayer { path };
            }
            Exact::Absent(absence) => {
                return Resolution::Missing {
                    path: format!("/{candidate}"),
                    absence,
                }
            }
            Exact::Found(_, Node::Dir) => {}
            Exact::Found(_, Node::Symlink(target)) => {
                symlinks.push(format!("/{candidate} -> {target}"));
                if symlinks.len() > MAX_SYMLINKS {
                    return Resolution::SymlinkLoop {
                        path: format!("/{candidate}"),
                        symlinks,
                    };
                }
                current.pop();
                if target.starts_with('/') {
                    current.clear();
                }
                for part in target.split('/').rev() {
                    pending.push_front(part.to_string());
                }
            }
            Exact::Found(layer, node) => {
                if pending.iter().any(|p| !p.is_empty() && p != ".") {
                    return Resolution::NotADirectory {
                        path: format!("/{candidate}"),
                        layer,
                    };
                }
                return Resolution::Found {
                    path: candidate,
                    layer,
                    node: node.clone(),
                    symlinks,
                };
            }
        }
    }
    Resolution::IsDirectory {
        path: format!("/{}", current.join("/")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer from a compact description: `f:path`, `d:path`, `l:path>target`,
    /// `h:path>target`, `w:path` (whiteout), `o:dir` (opaque).
    fn layer(spec: &[&str]) -> LayerIndex {
        let mut l = LayerIndex::default();
        for item in spec {
            let (kind, rest) = item.split_once(':').unwrap();
            let (path, target) = rest.split_once('>').map_or((rest, ""), |(p, t)| (p, t));
            let path = path.to_string();
            l.add_implicit_parents(path.rsplit_once('/').map_or("", |(dir, _)| dir));
            match kind {
                "f" => drop(l.entries.insert(
                    path,
                    Node::File {
                        size: 1,
                        mode: 0o755,
                    },
                )),
                "d" => drop(l.entries.insert(path, Node::Dir)),
                "l" => drop(l.entries.insert(path, Node::Symlink(target.into()))),
                "h" => drop(l.entries.insert(path, Node::Hardlink(target.into()))),
                "w" => drop(l.whiteouts.insert(path)),
                "o" => drop(l.opaque.insert(path)),
                _ => unreachable!(),
            }
        }
        l
    }

    fn found(r: Resolution) -> (String, usize) {
        match r {
            Resolution::Found { path, layer, .. } => (path, layer),
            other => panic!("not found: {other:?}"),
        }
    }

    #[test]
    fn top_layer_decides_without_reading_lower() {
        let top = [layer(&["f:bin/app"])];
        assert_eq!(found(resolve(&top, 3, "/bin/app")), ("bin/app".into(), 0));
        assert!(matches!(
            resolve(&top, 3, "/bin/other"),
            Resolution::NeedLayer { .. }
        ));
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        let stack = [layer(&["w:bin/app"]), layer(&["f:bin/app"])];
        assert_eq!(
            resolve(&stack, 2, "/bin/app"),
            Resolution::Missing {
                path: "/bin/app".into(),
                absence: Absence::WhitedOut { layer: 0 }
            }
        );
        // Deleted directory: /bin itself is found missing first.
        let stack = [layer(&["w:bin"]), layer(&["f:bin/app"])];
        assert!(matches!(
            resolve(&stack, 2, "/bin/app"),
            Resolution::Missing {
                absence: Absence::WhitedOut { .. },
                ..
            }
        ));
        // Deleted, then made again above: what it held below stays gone.
        let stack = [layer(&["d:bin"]), layer(&["w:bin"]), layer(&["f:bin/app"])];
        assert!(matches!(
            resolve(&stack, 3, "/bin/app"),
            Resolution::Missing {
                absence: Absence::ParentWhitedOut { .. },
                ..
            }
        ));
        // An opaque dir hides lower layers but not its own layer's entries.
        let stack = [
            layer(&["o:bin", "d:bin", "f:bin/new"]),
            layer(&["f:bin/app", "f:bin/new"]),
        ];
        assert!(matches!(
            resolve(&stack, 2, "/bin/app"),
            Resolution::Missing {
                absence: Absence::HiddenByOpaqueDir { .. },
                ..
            }
        ));
        assert_eq!(found(resolve(&stack, 2, "/bin/new")), ("bin/new".into(), 0));
        // A whiteout applies to lower layers only, not to an entry of its own layer.
        let stack = [layer(&["w:bin/app", "f:bin/app"]), layer(&["f:bin/app"])];
        assert_eq!(found(resolve(&stack, 2, "/bin/app")), ("bin/app".into(), 0));
        // Re-created after deletion in a higher layer.
        let stack = [
            layer(&["f:bin/app"]),
            layer(&["w:bin/app"]),
            layer(&["f:bin/app"]),
        ];
        assert_eq!(found(resolve(&stack, 3, "/bin/app")), ("bin/app".into(), 0));
    }

    #[test]
    fn symlinks_in_file_and_parents() {
        let stack = [
            layer(&[
                "l:usr/local/bin/app>../../../opt/app/bin/app-1",
                "l:opt/app>/srv/app-v1",
            ]),
            layer(&["d:srv/app-v1/bin", "f:srv/app-v1/bin/app-1"]),
        ];
        let r = resolve(&stack, 2, "/usr/local/bin/app");
        match r {
            Resolution::Found {
                path,
                layer,
                symlinks,
                ..
            } => {
                assert_eq!((path.as_str(), layer), ("srv/app-v1/bin/app-1", 1));
                assert_eq!(symlinks.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        // `..` at the root stays at the root, as in a chroot.
        let stack = [layer(&["l:a/link>../../../../bin/app", "f:bin/app"])];
        assert_eq!(found(resolve(&stack, 1, "a/link")), ("bin/app".into(), 0));
    }

    #[test]
    fn loops_files_as_dirs_and_dirs() {
        let stack = [layer(&["l:a>b", "l:b>a"])];
        assert!(matches!(
            resolve(&stack, 1, "/a"),
            Resolution::SymlinkLoop { .. }
        ));
        let stack = [layer(&["f:bin/app"])];
        assert!(matches!(
            resolve(&stack, 1, "/bin/app/x"),
            Resolution::NotADirectory { .. }
        ));
        let stack = [layer(&["d:bin"])];
        assert!(matches!(
            resolve(&stack, 1, "/bin"),
            Resolution::IsDirectory { .. }
        ));
        // A file in an upper layer replaces a lower directory and all it held.
        let stack = [layer(&["f:opt"]), layer(&["f:opt/app"])];
        assert!(matches!(
            resolve(&stack, 2, "/opt/app"),
            Resolution::NotADirectory { .. }
        ));
        let stack = [layer(&["d:opt"]), layer(&["f:opt"]), layer(&["f:opt/app"])];
        assert!(matches!(
            resolve(&stack, 3, "/opt/app"),
            Resolution::Missing {
                absence: Absence::ParentNotDirectory { .. },
                ..
            }
        ));
    }
}
