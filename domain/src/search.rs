//! The one tokenizer every search adapter uses, and the query parser.
//!
//! A word is a maximal run of `char::is_alphanumeric` characters (any language's letters
//! and digits), lowercased with `to_lowercase`. Words longer than [`MAX_WORD_BYTES`] bytes
//! are skipped (PostgreSQL's lexeme limit), as if absent. A message matches a query when
//! every word of the query is one of its words, and every quoted phrase appears as those
//! words in a row. Adapters index the output of [`tokenize`] verbatim, so their hits agree.

use crate::Error;

/// Longest word indexed, in bytes (PostgreSQL's lexeme limit is 2,047 bytes).
pub const MAX_WORD_BYTES: usize = 2047;

/// The words of `text`, in order, lowercased.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| w.len() <= MAX_WORD_BYTES)
        .collect()
}

/// One condition of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// The word appears in the message.
    Word(String),
    /// These words (two or more) appear in a row.
    Phrase(Vec<String>),
}

impl Term {
    /// Whether a message with these words (from [`tokenize`]) satisfies this term.
    pub fn matches(&self, words: &[String]) -> bool {
        match self {
            Term::Word(w) => words.iter().any(|x| x == w),
            Term::Phrase(p) => words.windows(p.len()).any(|win| win == p.as_slice()),
        }
    }
}

/// A parsed search query: at least one term, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    text: String,
    terms: Vec<Term>,
}

impl SearchQuery {
    /// Fewest characters after trimming.
    pub const MIN_CHARS: usize = 4;
    /// Most characters after trimming.
    pub const MAX_CHARS: usize = 1000;

    /// Parses a query: 4–1000 characters after trimming; words, and phrases in `"…"` or
    /// `“…”` (an unclosed quote runs to the end).
    ///
    /// # Errors
    /// [`Error::BadParameters`] when out of length, holding U+0000, or without any word.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let trimmed = s.trim();
        let n = trimmed.chars().take(Self::MAX_CHARS + 1).count();
        if trimmed.contains('\0') || !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(Error::BadParameters);
        }
        let mut terms = Vec::new();
        let mut push = |chunk: &str, quoted: bool| {
            let words = tokenize(chunk);
            if quoted && words.len() > 1 {
                terms.push(Term::Phrase(words));
            } else {
                terms.extend(words.into_iter().map(Term::Word));
            }
        };
        let mut in_quote = false;
        let mut start = 0;
        for (i, c) in trimmed.char_indices() {
            let toggles = match c {
                '"' => true,
                '“' => !in_quote,
                '”' => in_quote,
                _ => false,
            };
            if toggles {
                push(&trimmed[start..i], in_quote);
                in_quote = !in_quote;
                start = i + c.len_utf8();
            }
        }
        push(&trimmed[start..], in_quote);
        // A repeated condition adds nothing.
        let mut unique: Vec<Term> = Vec::with_capacity(terms.len());
        for t in terms {
            if !unique.contains(&t) {
                unique.push(t);
            }
        }
        if unique.is_empty() {
            return Err(Error::BadParameters);
        }
        Ok(Self {
            text: trimmed.to_owned(),
            terms: unique,
        })
    }

    /// The query as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The conditions, all of which must hold.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Whether a message with these words (from [`tokenize`]) matches.
    pub fn matches_words(&self, words: &[String]) -> bool {
        self.terms.iter().all(|t| t.matches(words))
    }

    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.matches_words(&tokenize(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Term {
        Term::Word(s.into())
    }

    #[test]
    fn tokenizer_splits_on_non_alphanumerics_and_lowercases_any_script() {
        assert_eq!(
            tokenize("Hello, WORLD! e-mail a@b.com Привет 東京 ÄÖ x2"),
            [
                "hello",
                "world",
                "e",
                "mail",
                "a",
                "b",
                "com",
                "привет",
                "東京",
                "äö",
                "x2"
            ]
        );
        assert!(tokenize("  ... !!").is_empty());
        assert!(tokenize(&"a".repeat(2048)).is_empty());
        assert_eq!(tokenize(&"a".repeat(2047)).len(), 1);
    }

    #[test]
    fn parses_words_and_phrases() {
        let q = SearchQuery::parse(r#"hello "big  World" again"#).unwrap();
        assert_eq!(
            q.terms(),
            [
                w("hello"),
                Term::Phrase(vec!["big".into(), "world".into()]),
                w("again")
            ]
        );
        let q = SearchQuery::parse("“quick fox” jumps").unwrap();
        assert_eq!(
            q.terms(),
            [Term::Phrase(vec!["quick".into(), "fox".into()]), w("jumps")]
        );
        // An unclosed quote runs to the end; a one-word phrase is a word.
        let q = SearchQuery::parse(r#"abc "def ghi"#).unwrap();
        assert_eq!(
            q.terms(),
            [w("abc"), Term::Phrase(vec!["def".into(), "ghi".into()])]
        );
        let q = SearchQuery::parse(r#""word""#).unwrap();
        assert_eq!(q.terms(), [w("word")]);
    }

    #[test]
    fn refuses_short_long_and_wordless_queries() {
        assert_eq!(SearchQuery::parse("  abc  "), Err(Error::BadParameters));
        assert!(SearchQuery::parse("  abcd  ").is_ok());
        assert_eq!(SearchQuery::parse("!!!!"), Err(Error::BadParameters));
        assert_eq!(SearchQuery::parse(r#""" ""#), Err(Error::BadParameters));
        assert!(SearchQuery::parse(&"a".repeat(1000)).is_ok());
        assert_eq!(
            SearchQuery::parse(&"a".repeat(1001)),
            Err(Error::BadParameters)
        );
        assert_eq!(SearchQuery::parse("abcd\0"), Err(Error::BadParameters));
    }

    #[test]
    fn matching_is_whole_word_any_order_case_insensitive() {
        let q = SearchQuery::parse("world HELLO").unwrap();
        assert!(q.matches("Hello there, world"));
        assert!(!q.matches("Hello worldwide"));
        let q = SearchQuery::parse(r#""hello world""#).unwrap();
        assert!(q.matches("say HELLO world!"));
        assert!(!q.matches("world hello"));
        assert!(!q.matches("hello big world"));
    }
}
