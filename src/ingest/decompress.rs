//! gzip, zstd and bzip2 inputs, recognized by their magic bytes (never by file name) and decompressed
//! as streams, so a compressed file is never held whole in memory.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

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
    /// Its name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }

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

/// Wraps `reader` in the decompressor its first bytes call for. A decompressor's error (a file
/// cut short, a corrupt block) ends the stream there, so that what came before is read, and is
/// kept in the [`BreakOff`] for the reader's ledger or error.
pub fn open(
    reader: impl Read + Send + 'static,
) -> std::io::Result<(Compression, Box<dyn BufRead + Send>, BreakOff)> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let compression = Compression::detect(reader.fill_buf()?);
    let consumed = Arc::new(AtomicU64::new(0));
    let reader = Consumed {
        inner: reader,
        at: consumed.clone(),
    };
    let break_off = BreakOff::default();
    let decoder: Box<dyn Read + Send> = match compression {
        Compression::None => return Ok((compression, Box::new(reader), break_off)),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
    };
    let located = Located {
        inner: decoder,
        compression,
        consumed,
        produced: 0,
        break_off: break_off.clone(),
    };
    Ok((
        compression,
        Box::new(BufReader::with_capacity(1 << 20, located)),
        break_off,
    ))
}

/// Where a compressed stream broke off, once it has.
#[derive(Debug, Clone, Default)]
pub struct BreakOff(Arc<OnceLock<String>>);

impl BreakOff {
    /// `byte N: the gzip stream breaks off (why) after M bytes decompressed`, once it has.
    pub fn message(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    /// For a file read whole, where a cut leaves nothing usable: an error when it broke off.
    pub fn check(&self, path: &Path, format: &'static str) -> crate::Result<()> {
        match self.message() {
            Some(message) => Err(crate::Error::Parse {
                path: path.into(),
                format,
                location: String::new(),
                message: format!("{message}: the file is cut short or corrupt"),
            }),
            None => Ok(()),
        }
    }
}

/// Counts the bytes a decompressor takes from the file (it consumes exactly what it decodes).
struct Consumed<R> {
    inner: R,
    at: Arc<AtomicU64>,
}

impl<R: Read> Read for Consumed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.at.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Consumed<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.at.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// A decompressed stream that ends where decoding fails, saying where in the compressed file
/// that was and how much had been decompressed by then.
struct Located {
    inner: Box<dyn Read + Send>,
    compression: Compression,
    consumed: Arc<AtomicU64>,
    produced: u64,
    break_off: BreakOff,
}

impl Read for Located {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.break_off.message().is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.produced += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let _ = self.break_off.0.set(format!(
                    "byte {}: the {} stream breaks off ({e}) after {} bytes decompressed",
                    self.consumed.load(Ordering::Relaxed),
                    self.compression.as_str(),
                    self.produced
                ));
                Ok(0)
            }
        }
    }
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
            let (found, mut reader, break_off) = open(std::io::Cursor::new(bytes)).unwrap();
            assert_eq!(found, want);
            let mut out = Vec::new();
            reader.read_to_end(&mut out).unwrap();
            assert_eq!(out, text);
            assert_eq!(break_off.message(), None);
        }
    }

    #[test]
    fn a_stream_cut_short_ends_there_and_says_where() {
        let text: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("line {i} {}\n", i.wrapping_mul(7919) % 1000).into_bytes())
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let zst = zstd::stream::encode_all(&text[..], 1).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&text).unwrap();
        for (name, bytes) in [
            ("gzip", gz.finish().unwrap()),
            ("zstd", zst),
            ("bzip2", bz.finish().unwrap()),
        ] {
            let cut = bytes.len() / 2;
            let (_, mut reader, break_off) =
                open(std::io::Cursor::new(bytes[..cut].to_vec())).unwrap();
            let mut out = Vec::new();
            reader.read_to_end(&mut out).unwrap();
            assert!(!out.is_empty() && text.starts_with(&out), "{name}");
            let message = break_off.message().unwrap();
            assert!(
                message.starts_with(&format!("byte {cut}: the {name} stream breaks off")),
                "{message}"
            );
            assert!(
                message.ends_with(&format!("after {} bytes decompressed", out.len())),
                "{message}"
            );
        }
    }
}
