//! A chat's message texts, packed one after another in chunks that double up to 64 KiB:
//! no heap allocation (and no allocator header and rounding) per message, a 12-byte
//! reference in the message instead of a 16-byte boxed string, and a chat with a few
//! messages still takes only a few hundred bytes.

use messenger_ports::{PortError, PortResult};

/// Bytes of a chat's first chunk: a chat with a few messages takes little room.
const FIRST_CHUNK: usize = 256;
/// Each next chunk doubles the last, up to this; a longer text gets a chunk of its size.
const CHUNK: usize = 64 * 1024;

/// Where a text lies in [`Texts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TextRef {
    chunk: u32,
    start: u32,
    len: u32,
}

/// Append-only storage of texts.
#[derive(Default)]
pub(super) struct Texts {
    /// Each with its capacity fixed when made: pushing never moves a chunk.
    chunks: Vec<String>,
}

fn too_big() -> PortError {
    PortError::Internal("the chat's text storage is full".into())
}

impl Texts {
    /// Stores `text`; on error nothing was stored.
    pub(super) fn push(&mut self, text: &str) -> PortResult<TextRef> {
        let len = u32::try_from(text.len()).map_err(|_| too_big())?;
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= text.len());
        if !fits {
            u32::try_from(self.chunks.len()).map_err(|_| too_big())?;
            let size = self
                .chunks
                .last()
                .map_or(FIRST_CHUNK, |c| (c.capacity() * 2).min(CHUNK))
                .max(text.len());
            self.chunks.push(String::with_capacity(size));
        }
        let chunk = self.chunks.len() - 1;
        let Some(last) = self.chunks.last_mut() else {
            return Err(too_big());
        };
        let start = u32::try_from(last.len()).map_err(|_| too_big())?;
        last.push_str(text);
        Ok(TextRef {
            chunk: u32::try_from(chunk).map_err(|_| too_big())?,
            start,
            len,
        })
    }

    /// The text at `at` (empty for a reference this storage did not give).
    pub(super) fn get(&self, at: TextRef) -> &str {
        let start = at.start as usize;
        self.chunks
            .get(at.chunk as usize)
            .and_then(|c| c.get(start..start + at.len as usize))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_come_back_verbatim_across_chunks_and_long_texts_get_their_own() {
        let mut texts = Texts::default();
        let long = "ü".repeat(CHUNK); // 2 bytes each: twice a chunk
        let samples: Vec<String> = (0..5000)
            .map(|i| match i % 1000 {
                0 => String::new(),
                1 => long.clone(),
                _ => format!("message {i} — ünïcødé 🎉 {}", "x".repeat(i % 97)),
            })
            .collect();
        let refs: Vec<TextRef> = samples.iter().map(|t| texts.push(t).unwrap()).collect();
        for (text, at) in samples.iter().zip(&refs) {
            assert_eq!(texts.get(*at), text.as_str());
        }
        assert!(texts.chunks.len() > 2, "the texts filled several chunks");
        let sizes: Vec<usize> = texts.chunks.iter().map(String::capacity).collect();
        assert!(sizes[0] < 1024, "a chat's first chunk is small: {sizes:?}");
        assert!(
            sizes.iter().filter(|s| **s >= CHUNK).count() > sizes.len() / 2,
            "the chunks grow to the chunk size: {sizes:?}"
        );
        assert_eq!(
            texts.get(TextRef {
                chunk: 99_999,
                start: 0,
                len: 1
            }),
            ""
        );
    }
}
