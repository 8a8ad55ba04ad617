//! Build files the audit does not read (Cloud Build, promu, bake, Task,
//! just, cargo-dist, ko's config): each one present is an `unread-build`
//! finding naming it, so a build the report lacks is never silent.

use crate::collect::Collector;
use crate::model::{Place, PlaceKind, Unread};
use crate::reader::Reader;

/// The files, and the tool each belongs to.
const FILES: &[(&str, &str)] = &[
    ("cloudbuild.yaml", "Google Cloud Build"),
    ("cloudbuild.yml", "Google Cloud Build"),
    (".promu.yml", "promu"),
    (".promu-cgo.yml", "promu"),
    ("docker-bake.hcl", "docker buildx bake"),
    ("docker-bake.json", "docker buildx bake"),
    ("Taskfile.yml", "Task"),
    ("Taskfile.yaml", "Task"),
    ("justfile", "just"),
    ("Justfile", "just"),
    ("dist-workspace.toml", "cargo-dist"),
    ("dist.toml", "cargo-dist"),
    (".ko.yaml", "ko"),
    ("Earthfile", "Earthly"),
];

/// The files of `FILES` at the top of the project.
pub struct UnreadFiles;

impl Reader for UnreadFiles {
    fn read(&self, collector: &mut Collector) {
        for (file, tool) in FILES {
            if collector.root.join(file).is_file() {
                collector.unread.push(Unread {
                    tool: tool.to_string(),
                    place: Place {
                        kind: PlaceKind::CiJob,
                        name: file.to_string(),
                        file: file.to_string(),
                        line: 1,
                    },
                });
            }
        }
    }
}
