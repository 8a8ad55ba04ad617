//! Choosing which of an image's platforms a command works on.

use anyhow::{anyhow, bail, Result};
use onebin_image::{Platform, PlatformImage};

/// Picks the requested platforms from the image; every runnable one when none
/// is requested. A requested platform the image lacks is an error naming what
/// the image has.
pub fn select_platforms(
    images: Vec<PlatformImage>,
    wanted: &[Platform],
    image_name: &str,
) -> Result<Vec<PlatformImage>> {
    if images.is_empty() {
        bail!("{image_name}: holds no runnable image (only attestations or unknown platforms)");
    }
    if wanted.is_empty() {
        return Ok(images);
    }
    let available = || {
        images
            .iter()
            .map(|i| i.platform.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut selected = Vec::new();
    for platform in wanted {
        let image = images
            .iter()
            .find(|i| i.platform.matches(platform))
            .ok_or_else(|| {
                anyhow!(
                    "platform {platform}: not in {image_name} (it has: {})",
                    available()
                )
            })?;
        if !selected
            .iter()
            .any(|s: &PlatformImage| s.descriptor.digest() == image.descriptor.digest())
        {
            selected.push(image.clone());
        }
    }
    Ok(selected)
}
