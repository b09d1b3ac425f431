//! Which layers a file has when its rule does not say: from the extensions at the
//! end of its name (`sales.csv.gz.enc` → decrypt, then gunzip), then from the
//! magic bytes of what remains (a `.csv` that is really gzip).

use super::super::spec::Layer;

/// At most this many layers are inferred from a name (guards against `x.gz.gz.gz…`).
pub const MAX_NAME_LAYERS: usize = 4;

/// Bytes needed to recognise a compression format by its magic.
pub const MAGIC_LEN: usize = 10;

/// The layers implied by the extensions of `name`, in the order they are undone
/// (outermost first), and the name without those extensions.
///
/// `.enc` and `.aes` mean whole-file `aes-256-gcm`; files in the streaming format
/// must name `aes-256-gcm-hkdf-stream` in their rule (the two cannot be told
/// apart without the key).
pub fn layers_from_name(name: &str) -> (Vec<Layer>, &str) {
    let mut layers = Vec::new();
    let mut stem = name;
    while layers.len() < MAX_NAME_LAYERS {
        let Some((rest, ext)) = stem.rsplit_once('.') else {
            break;
        };
        if rest.is_empty() || rest.ends_with('/') {
            break;
        }
        let layer = match ext.to_ascii_lowercase().as_str() {
            "gz" | "gzip" => Layer::Gzip,
            "bz2" | "bzip2" => Layer::Bzip2,
            "enc" | "aes" => Layer::Aes256Gcm,
            _ => break,
        };
        layers.push(layer);
        stem = rest;
    }
    (layers, stem)
}

/// The compression format whose magic bytes start `prefix`, if any.
pub fn sniff(prefix: &[u8]) -> Option<Layer> {
    const BZ_BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const BZ_END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    match prefix {
        [0x1f, 0x8b, 0x08, ..] => Some(Layer::Gzip),
        [b'B', b'Z', b'h', level, magic @ ..]
            if (b'1'..=b'9').contains(level)
                && magic.len() >= 6
                && (magic[..6] == BZ_BLOCK || magic[..6] == BZ_END) =>
        {
            Some(Layer::Bzip2)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_undone_from_the_outside_in() {
        assert_eq!(
            layers_from_name("/in/sales.csv.gz.enc"),
            (vec![Layer::Aes256Gcm, Layer::Gzip], "/in/sales.csv")
        );
        assert_eq!(
            layers_from_name("feed.XML.BZ2"),
            (vec![Layer::Bzip2], "feed.XML")
        );
        assert_eq!(layers_from_name("plain.csv"), (vec![], "plain.csv"));
        assert_eq!(layers_from_name(".gz"), (vec![], ".gz"));
        assert_eq!(layers_from_name("dir/.gz"), (vec![], "dir/.gz"));
    }

    #[test]
    fn name_inference_is_bounded() {
        let (layers, stem) = layers_from_name("x.gz.gz.gz.gz.gz.gz");
        assert_eq!(layers.len(), MAX_NAME_LAYERS);
        assert_eq!(stem, "x.gz.gz");
    }

    #[test]
    fn magic_bytes_name_gzip_and_bzip2_only() {
        assert_eq!(
            sniff(&[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]),
            Some(Layer::Gzip)
        );
        let mut bz = b"BZh9".to_vec();
        bz.extend_from_slice(&[0x31, 0x41, 0x59, 0x26, 0x53, 0x59]);
        assert_eq!(sniff(&bz), Some(Layer::Bzip2));
        assert_eq!(sniff(b"BZh9 not really"), None);
        assert_eq!(sniff(b"id,name\n1,a\n"), None);
        assert_eq!(sniff(&[]), None);
    }
}
