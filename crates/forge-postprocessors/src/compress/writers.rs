//! The compressing writers. gzip and BGZF compress fixed-size chunks on a pool of threads (or
//! inline with one) and write the results in order (each gzip chunk a complete gzip member,
//! which every gzip reader concatenates); chunks that do not compress are stored. xz and zstd
//! use their libraries' own threads; LZ4 is sequential.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::Compression;

use super::config::Algorithm;

/// A writer that must be told when the stream ends.
pub trait Finish: Write + Send {
    /// Writes whatever the format needs at the end and flushes.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

impl<W: Write + Send> Finish for io::BufWriter<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush()
    }
}

/// A compressing writer for `algorithm` over `out`, using `threads` threads where the format
/// allows; `level` 1-9, `None` for the default.
pub fn compressor<W: Write + Send + 'static>(
    algorithm: Algorithm,
    out: W,
    level: Option<u32>,
    threads: usize,
) -> io::Result<Box<dyn Finish>> {
    let threads = threads.max(1);
    Ok(match algorithm {
        Algorithm::None => Box::new(io::BufWriter::with_capacity(1 << 20, out)),
        Algorithm::Gzip => Box::new(Blocks::new(
            out,
            threads,
            GZIP_CHUNK,
            Block::Gzip(Compression::new(level.unwrap_or(6))),
            &[],
        )),
        Algorithm::Bgzf => Box::new(Blocks::new(
            out,
            threads,
            BGZF_BLOCK * 16,
            Block::Bgzf(Compression::new(level.unwrap_or(6))),
            &BGZF_EOF,
        )),
        Algorithm::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max4MB)
                .content_checksum(true);
            Box::new(Lz4(lz4_flex::frame::FrameEncoder::with_frame_info(
                info,
                io::BufWriter::with_capacity(1 << 20, out),
            )))
        }
        Algorithm::Xz => {
            let preset = level.unwrap_or(6);
            let check = xz2::stream::Check::Crc64;
            let stream = if threads == 1 {
                xz2::stream::Stream::new_easy_encoder(preset, check)
            } else {
                xz2::stream::MtStreamBuilder::new()
                    .threads(threads as u32)
                    .preset(preset)
                    .check(check)
                    .encoder()
            }
            .map_err(io::Error::other)?;
            Box::new(Xz(xz2::write::XzEncoder::new_stream(
                io::BufWriter::with_capacity(1 << 20, out),
                stream,
            )))
        }
        Algorithm::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(
                io::BufWriter::with_capacity(1 << 20, out),
                level
                    .map(|l| l as i32)
                    .unwrap_or(zstd::DEFAULT_COMPRESSION_LEVEL),
            )?;
            enc.include_checksum(true)?;
            if threads > 1 {
                enc.multithread(threads as u32)?;
            }
            Box::new(Zstd(enc))
        }
    })
}

struct Lz4<W: Write>(lz4_flex::frame::FrameEncoder<W>);
struct Xz<W: Write>(xz2::write::XzEncoder<W>);
struct Zstd<W: Write>(zstd::stream::write::Encoder<'static, W>);

macro_rules! delegate_write {
    ($($t:ident),*) => {$(
        impl<W: Write + Send> Write for $t<W> {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0.flush()
            }
        }
    )*};
}
delegate_write!(Lz4, Xz, Zstd);

impl<W: Write + Send> Finish for Lz4<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish().map_err(io::Error::other)?.flush()
    }
}

impl<W: Write + Send> Finish for Xz<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.flush()
    }
}

impl<W: Write + Send> Finish for Zstd<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.flush()
    }
}

/// Input per parallel gzip member.
const GZIP_CHUNK: usize = 1 << 20;
/// Input per BGZF block (the format's usual 0xff00, so a block always fits in 64 KiB).
const BGZF_BLOCK: usize = 0xff00;
/// The empty block that ends a BGZF file.
const BGZF_EOF: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, b'B', b'C', 0x02, 0, 0x1b, 0, 0x03, 0, 0,
    0, 0, 0, 0, 0, 0, 0,
];

/// How one chunk is compressed.
#[derive(Debug, Clone, Copy)]
enum Block {
    /// One gzip member.
    Gzip(Compression),
    /// BGZF blocks of at most [`BGZF_BLOCK`] input bytes each.
    Bgzf(Compression),
}

impl Block {
    fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Block::Gzip(level) => {
                let level = if incompressible(data) {
                    Compression::none()
                } else {
                    level
                };
                let mut e =
                    flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), level);
                e.write_all(data)?;
                e.finish()
            }
            Block::Bgzf(level) => {
                let mut out = Vec::with_capacity(data.len() / 2);
                let level = if incompressible(data) {
                    Compression::none()
                } else {
                    level
                };
                for part in data.chunks(BGZF_BLOCK) {
                    bgzf_block(part, level, &mut out)?;
                }
                Ok(out)
            }
        }
    }
}

/// Whether `data` looks like it will not compress (already compressed or encrypted content):
/// three samples deflated at the fastest level save under 3%. Such chunks are stored, as
/// fast compressors (Packer's pgzip among them) do, instead of searching them for matches.
fn incompressible(data: &[u8]) -> bool {
    const SAMPLE: usize = 16 << 10;
    if data.len() < 4 * SAMPLE {
        return false;
    }
    let mut e =
        flate2::write::DeflateEncoder::new(Vec::with_capacity(3 * SAMPLE), Compression::fast());
    for start in [0, data.len() / 2, data.len() - SAMPLE] {
        if e.write_all(&data[start..start + SAMPLE]).is_err() {
            return false;
        }
    }
    e.finish()
        .map(|c| c.len() * 100 >= 3 * SAMPLE * 97)
        .unwrap_or(false)
}

/// Appends one BGZF block holding `data` (at most [`BGZF_BLOCK`] bytes).
fn bgzf_block(data: &[u8], level: Compression, out: &mut Vec<u8>) -> io::Result<()> {
    let deflate = |level| -> io::Result<Vec<u8>> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
        e.write_all(data)?;
        e.finish()
    };
    let mut body = deflate(level)?;
    if body.len() + 26 > 65536 {
        // Incompressible: stored blocks always fit.
        body = deflate(Compression::none())?;
    }
    let bsize = (body.len() + 25) as u16;
    out.extend_from_slice(&[
        0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, b'B', b'C', 0x02, 0,
    ]);
    out.extend_from_slice(&bsize.to_le_bytes());
    out.extend_from_slice(&body);
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(())
}

type Job = (Vec<u8>, SyncSender<io::Result<Vec<u8>>>);

/// Compresses fixed-size chunks on `threads` worker threads (inline with one) and writes the
/// results in input order, with at most two chunks per thread in flight.
struct Blocks<W: Write> {
    out: W,
    buf: Vec<u8>,
    chunk: usize,
    block: Block,
    trailer: &'static [u8],
    jobs: Option<SyncSender<Job>>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    workers: Vec<JoinHandle<()>>,
    wrote_any: bool,
}

impl<W: Write> Blocks<W> {
    fn new(out: W, threads: usize, chunk: usize, block: Block, trailer: &'static [u8]) -> Self {
        let mut workers = Vec::new();
        let jobs = if threads > 1 {
            let (tx, rx) = sync_channel::<Job>(threads);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..threads {
                let rx = rx.clone();
                workers.push(std::thread::spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok((data, reply)) = job else { return };
                    let _ = reply.send(block.compress(&data));
                }));
            }
            Some(tx)
        } else {
            None
        };
        Blocks {
            out,
            buf: Vec::with_capacity(chunk),
            chunk,
            block,
            trailer,
            jobs,
            pending: VecDeque::new(),
            max_pending: threads * 2,
            workers,
            wrote_any: false,
        }
    }

    fn submit(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.wrote_any = true;
        if self.jobs.is_none() {
            let c = self.block.compress(&data)?;
            return self.out.write_all(&c);
        }
        while self.pending.len() >= self.max_pending {
            self.write_oldest()?;
        }
        let (tx, rx) = sync_channel(1);
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("compressor finished"))?;
        jobs.send((data, tx))
            .map_err(|_| io::Error::other("compression worker stopped"))?;
        self.pending.push_back(rx);
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let c = rx
                .recv()
                .map_err(|_| io::Error::other("compression worker stopped"))??;
            self.out.write_all(&c)?;
        }
        Ok(())
    }
}

impl<W: Write> Write for Blocks<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = b.len().min(self.chunk - self.buf.len());
        self.buf.extend_from_slice(&b[..n]);
        if self.buf.len() == self.chunk {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write + Send> Finish for Blocks<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        // An empty input still makes one (empty) member: an empty file is not valid gzip.
        if !self.buf.is_empty() || !self.wrote_any {
            self.submit()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let trailer = self.trailer;
        self.out.write_all(trailer)?;
        self.out.flush()
    }
}

impl<W: Write> Drop for Blocks<W> {
    fn drop(&mut self) {
        // Closing the job channel stops the workers; results nobody reads are dropped.
        self.jobs = None;
        self.pending.clear();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn parallel_gzip_and_bgzf_round_trip() {
        let data: Vec<u8> = (0..3_500_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 7919) as u8)
            .collect();
        for alg in [Algorithm::Gzip, Algorithm::Bgzf] {
            for threads in [1, 3] {
                let out = Arc::new(Mutex::new(Vec::new()));
                let mut w = compressor(alg, Shared(out.clone()), None, threads).unwrap();
                w.write_all(&data).unwrap();
                w.finish().unwrap();
                let bytes = out.lock().unwrap().clone();
                let mut back = Vec::new();
                flate2::read::MultiGzDecoder::new(&bytes[..])
                    .read_to_end(&mut back)
                    .unwrap();
                assert!(back == data, "{alg:?} with {threads} threads");
                if alg == Algorithm::Bgzf {
                    assert!(bytes.ends_with(&BGZF_EOF));
                }
            }
        }
        // Random (incompressible) chunks are stored: barely bigger than the input.
        let mut x: u64 = 88172645463325252;
        let random: Vec<u8> = (0..(3 << 20))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(incompressible(&random[..GZIP_CHUNK]));
        assert!(!incompressible(&data[..GZIP_CHUNK]));
        for alg in [Algorithm::Gzip, Algorithm::Bgzf] {
            let out = Arc::new(Mutex::new(Vec::new()));
            let mut w = compressor(alg, Shared(out.clone()), Some(9), 2).unwrap();
            w.write_all(&random).unwrap();
            w.finish().unwrap();
            let bytes = out.lock().unwrap().clone();
            assert!(bytes.len() < random.len() + random.len() / 100, "{alg:?}");
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == random, "{alg:?}");
        }
        // Empty input is still a valid gzip stream.
        let out = Arc::new(Mutex::new(Vec::new()));
        compressor(Algorithm::Gzip, Shared(out.clone()), None, 2)
            .unwrap()
            .finish()
            .unwrap();
        let bytes = out.lock().unwrap().clone();
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty() && !bytes.is_empty());
    }

    #[derive(Clone)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
