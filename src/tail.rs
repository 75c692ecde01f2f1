//! Following a log file like `tail -F`, one `poll` per change notification: new complete
//! lines since last time, across truncation (read again from the start), rotation by
//! rename and delete-and-recreate (finish the old file, then follow the new one at the
//! same path). A partial last line is held until its newline arrives (or its file is
//! rotated away). Bytes are split on `\n` before decoding, so a multi-byte character is
//! never cut; invalid UTF-8 becomes U+FFFD.
//!
//! Plus [`Ring`], the bounded backlog a new viewer is shown first.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Most bytes one poll reads, so one huge burst cannot balloon memory; `poll` reports
/// whether more is waiting.
const MAX_READ: u64 = 64 << 10;

#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<(File, (u64, u64))>,
    offset: u64,
    partial: Vec<u8>,
    /// Where to start in the first file opened: from its end minus this many bytes.
    first_tail: Option<u64>,
}

/// New lines, and whether the poll stopped early with more to read.
pub struct Polled {
    pub lines: Vec<String>,
    pub more: bool,
}

impl Follower {
    /// Follows `path` from the beginning of the file.
    pub fn from_start(path: &Path) -> Follower {
        Follower { path: path.to_owned(), file: None, offset: 0, partial: Vec::new(), first_tail: None }
    }

    /// Follows `path` starting `bytes` before its current end (the first line may be cut).
    pub fn from_tail(path: &Path, bytes: u64) -> Follower {
        Follower { first_tail: Some(bytes), ..Follower::from_start(path) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads whatever is new. Blocking I/O: run it off the async threads.
    pub fn poll(&mut self) -> io::Result<Polled> {
        let mut lines = Vec::new();
        let current = std::fs::metadata(&self.path).ok().map(|m| (m.dev(), m.ino()));
        // Rotated or deleted: finish what the old file still holds, then let it go.
        if let Some((_, id)) = &self.file
            && current != Some(*id)
        {
            self.read_open(&mut lines)?;
            if !self.partial.is_empty() {
                lines.push(decode(&std::mem::take(&mut self.partial)));
            }
            self.file = None;
            self.offset = 0;
        }
        if self.file.is_none() {
            let Some(id) = current else { return Ok(Polled { lines, more: false }) };
            let f = match File::open(&self.path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Polled { lines, more: false }),
                Err(e) => return Err(e),
            };
            if let Some(tail) = self.first_tail.take() {
                self.offset = f.metadata()?.len().saturating_sub(tail);
            }
            self.file = Some((f, id));
        }
        let more = self.read_open(&mut lines)?;
        Ok(Polled { lines, more })
    }

    fn read_open(&mut self, lines: &mut Vec<String>) -> io::Result<bool> {
        let Some((f, _)) = &mut self.file else { return Ok(false) };
        let len = f.metadata()?.len();
        if len < self.offset {
            self.offset = 0; // truncated: what was half-written before is gone
            self.partial.clear();
        }
        if len == self.offset {
            return Ok(false);
        }
        let want = (len - self.offset).min(MAX_READ);
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::with_capacity(want as usize);
        f.take(want).read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        if let Some(last) = self.partial.iter().rposition(|b| *b == b'\n') {
            let rest = self.partial.split_off(last + 1);
            let complete = std::mem::replace(&mut self.partial, rest);
            lines.extend(complete[..complete.len() - 1].split(|b| *b == b'\n').map(decode));
        }
        Ok(self.offset < len)
    }
}

fn decode(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The most recent lines, bounded in bytes.
#[derive(Debug, Default)]
pub struct Ring {
    lines: VecDeque<String>,
    bytes: usize,
    cap: usize,
}

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring { lines: VecDeque::new(), bytes: 0, cap }
    }

    pub fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > self.cap
            && let Some(old) = self.lines.pop_front()
        {
            self.bytes -= old.len() + 1;
        }
    }

    pub fn lines(&self) -> impl Iterator<Item = &String> {
        self.lines.iter()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn append(p: &Path, data: &[u8]) {
        std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap().write_all(data).unwrap();
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        let mut f = Follower::from_start(&p);
        assert!(f.poll().unwrap().lines.is_empty(), "a missing file is just quiet");
        append(&p, b"one\ntw");
        assert_eq!(f.poll().unwrap().lines, ["one"]);
        append(&p, "o é\n\n".as_bytes());
        assert_eq!(f.poll().unwrap().lines, ["two é", ""]);
    }

    #[test]
    fn tail_start_skips_old_content() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        append(&p, b"aaaa\nbbbb\ncccc\n");
        let mut f = Follower::from_tail(&p, 10);
        assert_eq!(f.poll().unwrap().lines, ["bbbb", "cccc"]);
    }

    #[test]
    fn ring_is_bounded_in_bytes() {
        let mut r = Ring::new(10);
        for l in ["aaaa", "bbbb", "cccc"] {
            r.push(l.into());
        }
        assert_eq!(r.lines().cloned().collect::<Vec<_>>(), ["bbbb", "cccc"]);
        assert_eq!(r.bytes(), 10);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append(Vec<u8>),
        Truncate,
        Rotate,
        DeleteRecreate,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), Just(b'z'), Just(0xC3u8), Just(0xA9u8)], 0..40).prop_map(Op::Append),
            1 => Just(Op::Truncate),
            1 => Just(Op::Rotate),
            1 => Just(Op::DeleteRecreate),
        ]
    }

    proptest! {
        /// After any sequence of writes, truncations and rotations, polled after each step,
        /// the follower emits exactly the lines a simple model says.
        #[test]
        fn matches_a_model(ops in proptest::collection::vec(op(), 1..30)) {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("b.log");
            std::fs::write(&p, b"").unwrap();
            let mut f = Follower::from_start(&p);
            let (mut got, mut want) = (Vec::new(), Vec::new());
            let mut partial: Vec<u8> = Vec::new();
            for (n, o) in ops.iter().enumerate() {
                match o {
                    Op::Append(data) => {
                        append(&p, data);
                        partial.extend_from_slice(data);
                        while let Some(i) = partial.iter().position(|b| *b == b'\n') {
                            want.push(decode(&partial[..i]));
                            partial.drain(..=i);
                        }
                    }
                    Op::Truncate => {
                        std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(0).unwrap();
                        partial.clear();
                    }
                    Op::Rotate | Op::DeleteRecreate => {
                        if matches!(o, Op::Rotate) {
                            std::fs::rename(&p, d.path().join(format!("b.log.{n}"))).unwrap();
                        } else {
                            std::fs::remove_file(&p).unwrap();
                        }
                        std::fs::write(&p, b"").unwrap();
                        if !partial.is_empty() {
                            want.push(decode(&std::mem::take(&mut partial)));
                        }
                    }
                }
                let polled = f.poll().unwrap();
                prop_assert!(!polled.more);
                got.extend(polled.lines);
                prop_assert_eq!(&got, &want, "after {:?}", o);
            }
        }
    }
}
