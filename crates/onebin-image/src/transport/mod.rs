//! The transports: where images are read from.
//!
//! - [`layout`]: an OCI image layout, in a directory (`oci:`) or a tar file
//!   (`oci-archive:`).
//! - [`docker_archive`]: `docker save` output (`docker-archive:`), and the
//!   Docker Engine's export stream (`docker-daemon:`), which has the same shape.
//! - [`remote`]: a registry (`docker://`), over the OCI distribution API.
//! - [`files`]: the file sets both are read from: a directory, a tar file, or
//!   the engine's export stream.

pub mod daemon;
pub mod docker_archive;
pub mod files;
pub mod layout;
pub mod remote;

use crate::{ImageReference, ImageSource, Result};

/// Opens the image a reference names.
pub fn open(reference: &ImageReference) -> Result<Box<dyn ImageSource>> {
    let name = reference.to_string();
    Ok(match reference {
        ImageReference::OciLayout { dir, tag } => Box::new(layout::LayoutSource::open(
            files::Directory::open(dir)?,
            tag.clone(),
            name,
        )?),
        ImageReference::OciArchive { file, tag } => Box::new(layout::LayoutSource::open(
            files::TarFile::open(file)?,
            tag.clone(),
            name,
        )?),
        ImageReference::DockerArchive { file, reference } => {
            Box::new(docker_archive::DockerArchiveSource::open(
                files::TarFile::open(file)?,
                reference.as_deref(),
                name,
            )?)
        }
        ImageReference::DockerDaemon { name: image } => {
            let export = daemon::DaemonExport::open(&daemon::Engine::from_env()?, image)?;
            Box::new(docker_archive::DockerArchiveSource::open(
                export,
                Some(image),
                name,
            )?)
        }
        ImageReference::Registry(r) => Box::new(remote::RemoteSource::open(r, name)?),
    })
}
