//! The one writer of pages on the wire: `{"messages": [...], "next": {"iterator": "..."}}`,
//! for a chat's messages and a search task's hits alike. Only the items differ (and a
//! chat's pages also carry `prev`); each kind says how one item is written, and the page
//! encodes its cursors here, at the edge.

use crate::http::payload::{Hex, NextView, Rfc3339, SerdeJson};
use messenger_domain::{Cursor, Message, SearchHit};
use messenger_ports::{ChatPage, HitsPage};
use serde::{ser::SerializeStruct, Serialize, Serializer};

/// A page the use cases return, as the wire sees it.
pub trait WirePage: Send {
    /// Its items.
    type Item: WireItem;
    /// The schema's name (for serde's struct name only; the spec is the schema type's).
    const NAME: &'static str;
    /// The items, in page order.
    fn items(&self) -> &[Self::Item];
    /// Where the next page starts.
    fn next(&self) -> Cursor;
    /// `Some` for pages that carry `prev` (a chat's: the point before the first item, or
    /// `None` at the chat's start); `None` for pages without the field.
    fn prev(&self) -> Option<Option<Cursor>>;
}

/// One item of a page as written on the wire.
pub trait WireItem {
    /// The item's schema name.
    const NAME: &'static str;
    /// Writes the item's fields.
    fn write<S: SerializeStruct>(&self, st: &mut S) -> Result<(), S::Error>;
    /// Its free-text bytes (to size the answer's buffer).
    fn text_len(&self) -> usize;
}

impl WirePage for ChatPage {
    type Item = Message;
    const NAME: &'static str = "MessagesPage";
    fn items(&self) -> &[Message] {
        &self.messages
    }
    fn next(&self) -> Cursor {
        self.next
    }
    fn prev(&self) -> Option<Option<Cursor>> {
        Some(self.prev)
    }
}

impl WirePage for HitsPage {
    type Item = SearchHit;
    const NAME: &'static str = "SearchResultsPage";
    fn items(&self) -> &[SearchHit] {
        &self.hits
    }
    fn next(&self) -> Cursor {
        self.next
    }
    fn prev(&self) -> Option<Option<Cursor>> {
        None
    }
}

impl WireItem for Message {
    const NAME: &'static str = "Message";
    fn write<S: SerializeStruct>(&self, st: &mut S) -> Result<(), S::Error> {
        st.serialize_field("text", &self.text)?;
        st.serialize_field("message_id", &Hex(self.id.as_u128()))?;
        st.serialize_field("user_id", &Hex(self.user_id.as_u128()))?;
        st.serialize_field("user_name", &self.user_name)?;
        st.serialize_field("created_at", &Rfc3339(self.created_at))
    }
    fn text_len(&self) -> usize {
        self.text.len() + self.user_name.len()
    }
}

impl WireItem for SearchHit {
    const NAME: &'static str = "SearchHit";
    fn write<S: SerializeStruct>(&self, st: &mut S) -> Result<(), S::Error> {
        st.serialize_field("text", &self.text)?;
        st.serialize_field("chat_id", &Hex(self.chat_id.as_u128()))?;
        st.serialize_field("message_id", &Hex(self.message_id.as_u128()))?;
        st.serialize_field("user_name", &self.user_name)?;
        st.serialize_field("created_at", &Rfc3339(self.created_at))
    }
    fn text_len(&self) -> usize {
        self.text.len() + self.user_name.len()
    }
}

/// A page as written on the wire; `S` (in [`PageView::into_answer`]) is its schema type.
pub struct PageView<P>(pub P);

impl<P: WirePage> PageView<P> {
    /// The answer, written with serde when sent.
    pub fn into_answer<S>(self) -> SerdeJson<S, Self> {
        let hint = self.size_hint();
        SerdeJson::new(self, hint)
    }

    /// Bytes to reserve for the answer.
    pub fn size_hint(&self) -> usize {
        self.0
            .items()
            .iter()
            .map(|i| i.text_len() + 160)
            .sum::<usize>()
            + 80
    }
}

impl<P: WirePage> Serialize for PageView<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let prev = self.0.prev();
        let mut st = s.serialize_struct(P::NAME, 2 + usize::from(prev.is_some()))?;
        st.serialize_field("messages", &Items(self.0.items()))?;
        if let Some(prev) = prev {
            let prev = prev.map(|c| c.encode());
            st.serialize_field("prev", &prev.as_deref().map(NextView))?;
        }
        st.serialize_field("next", &NextView(&self.0.next().encode()))?;
        st.end()
    }
}

struct Items<'a, T>(&'a [T]);

impl<T: WireItem> Serialize for Items<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Item))
    }
}

struct Item<'a, T>(&'a T);

impl<T: WireItem> Serialize for Item<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct(T::NAME, 5)?;
        self.0.write(&mut st)?;
        st.end()
    }
}
