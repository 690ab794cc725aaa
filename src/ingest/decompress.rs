//! gzip, zstd and bzip2 inputs, recognized by their magic bytes (never by file name) and decompressed
//! as streams, so a compressed file is never held whole in memory.

use std::io::{BufRead, BufReader, Read};

/// A compression found by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// Zstandard.
    Zstd,
    /// bzip2 (how pgBadger's and many rotated logs are shipped), possibly several streams.
    Bzip2,
}

impl Compression {
    /// Recognizes a compression from the first bytes of a file.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }
}

/// Wraps `reader` in the decompressor its first bytes call for.
pub fn open(
    reader: impl Read + Send + 'static,
) -> std::io::Result<(Compression, Box<dyn BufRead + Send>)> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let compression = Compression::detect(reader.fill_buf()?);
    let out: Box<dyn BufRead + Send> = match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(reader),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            1 << 20,
            zstd::stream::read::Decoder::with_buffer(reader)?,
        )),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(
            1 << 20,
            bzip2::bufread::MultiBzDecoder::new(reader),
        )),
    };
    Ok((compression, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_zstd_and_bzip2_round_trip() {
        let text = b"{\"resourceSpans\":[]}\n".repeat(1000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let zst = zstd::stream::encode_all(&text[..], 1).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&text).unwrap();
        for (bytes, want) in [
            (bz.finish().unwrap(), Compression::Bzip2),
            (gz.finish().unwrap(), Compression::Gzip),
            (zst, Compression::Zstd),
            (text.clone(), Compression::None),
        ] {
            let (found, mut reader) = open(std::io::Cursor::new(bytes)).unwrap();
            assert_eq!(found, want);
            let mut out = Vec::new();
            reader.read_to_end(&mut out).unwrap();
            assert_eq!(out, text);
        }
    }
}
