//! Messages: post, read pages both ways (`from` onwards, `before` back from the end), and
//! move the caller's read marker.

use super::{pages::PageView, types::DateTime, types::Text, ApiTags, Next};
use crate::http::{
    answers::api_response,
    payload::{render, SerdeJson},
    security::Session,
};
use bytes::Bytes;
use messenger_domain::{
    ChatId, Error, IdempotencyKey, Limit, MemberId, MessageText, UncheckedCursor,
};
use messenger_ports::{AppError, ChatPage, Messenger, PageAnchor};
use poem::Request;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    Object, OpenApi,
};

/// The header that makes a post idempotent.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The message routes.
pub struct MessagesApi {
    messenger: Messenger,
    rendered: Option<RenderedPages>,
}

impl MessagesApi {
    /// Over these use cases, keeping up to `rendered_page_bytes` of written full pages
    /// (0: none).
    pub fn new(messenger: Messenger, rendered_page_bytes: u64) -> Self {
        Self {
            messenger,
            rendered: (rendered_page_bytes > 0).then(|| RenderedPages::new(rendered_page_bytes)),
        }
    }
}

/// Full pages as written on the wire. A full page never changes (messages are immutable
/// and sequence numbers have no gaps), so its bytes — `next` included — are fixed once
/// written; keeping them saves writing 100 messages of JSON per read of a popular page.
/// Keyed by the page's first message and its size, which fix the page (its `prev` and
/// `next` too, whether it was asked for with `from` or `before`); consulted only after the
/// use case has checked the caller's access and produced the page.
struct RenderedPages {
    cache: moka::sync::Cache<(u128, u32), Bytes>,
}

impl RenderedPages {
    fn new(max_bytes: u64) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, b: &Bytes| u32::try_from(b.len()).unwrap_or(u32::MAX))
                .build(),
        }
    }

    /// The answer for `page`, written once per full page.
    fn answer(
        &self,
        page: PageView<ChatPage>,
        limit: Limit,
    ) -> SerdeJson<MessagesPageSchema, PageView<ChatPage>> {
        let first = match page.0.messages.first() {
            Some(m) if page.0.messages.len() == limit.get() as usize => m.id.as_u128(),
            _ => return page.into_answer(),
        };
        let key = (first, limit.get());
        if let Some(bytes) = self.cache.get(&key) {
            return SerdeJson::rendered(bytes);
        }
        match render(&page, page.size_hint()) {
            Ok(bytes) => {
                self.cache.insert(key, bytes.clone());
                SerdeJson::rendered(bytes)
            }
            Err(_) => page.into_answer(),
        }
    }
}

/// A message to post.
#[derive(Object)]
pub struct NewMessage {
    /// The text: 1–10,000 characters, no U+0000.
    #[oai(validator(min_length = 1, max_length = 10000))]
    pub message: Text,
}

/// A posted message.
#[derive(Object)]
pub struct MessagePosted {
    /// The message's id.
    pub message_id: String,
}

/// A message of a chat.
#[derive(Object)]
#[oai(rename = "Message")]
pub struct MessageSchema {
    /// The text, verbatim.
    pub text: String,
    /// The message's id.
    pub message_id: String,
    /// The posting member.
    pub user_id: String,
    /// The posting member's display name.
    pub user_name: String,
    /// When it was stored (RFC 3339, UTC); never earlier than the chat's previous message.
    pub created_at: DateTime,
}

/// A page of a chat's messages, oldest first.
#[derive(Object)]
#[oai(rename = "MessagesPage")]
pub struct MessagesPageSchema {
    /// The messages.
    pub messages: Vec<MessageSchema>,
    /// The point just before the page's first message: pass it as `before` to go further
    /// back. Null when the page starts at the chat's first message.
    #[oai(nullable)]
    pub prev: Option<Next>,
    /// The point after the page's last message: pass it as `from` to continue (at the end,
    /// the end as it is now).
    pub next: Next,
}

/// Where to move the read marker.
#[derive(Object)]
pub struct MarkRead {
    /// A message cursor of this chat (a page's `next`/`prev`, or a summary's `end`): the
    /// messages up to that point count as read.
    pub iterator: Text,
}

/// The caller's read marker in a chat, as it is now.
#[derive(Object)]
#[oai(rename = "ReadMarker")]
pub struct ReadMarkerSchema {
    /// The marker: a message cursor (the point after the last message read).
    pub read: Next,
    /// Messages after the marker.
    pub unread_count: u64,
}

api_response! {
    /// Answers of `POST /v1/chats/{chat_id}/messages`.
    pub enum PostMessageResponse {
        /// Stored durably (or, for a retry with the same `Idempotency-Key` and body, the first
        /// message's id).
        #[oai(status = 201)]
        Created(Json<MessagePosted>),
    }
    errors {
        /// Bad input.
        #[oai(status = 400)]
        BadRequest(BadParametersError),
        /// No such chat for the caller, or `user_id` is not the caller's member of it.
        #[oai(status = 404)]
        NotFound(PostNotFoundError),
        /// The `Idempotency-Key` was used with another body.
        #[oai(status = 422)]
        UnprocessableEntity(IdempotencyKeyReusedError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

api_response! {
    /// Answers of `GET /v1/chats/{chat_id}/messages`.
    pub enum ListMessagesResponse {
        /// A page, oldest first.
        #[oai(status = 200)]
        Ok(SerdeJson<MessagesPageSchema, PageView<ChatPage>>),
    }
    errors {
        /// Bad input, or a bad cursor.
        #[oai(status = 400)]
        BadRequest(PageBadRequestError),
        /// No such chat for the caller.
        #[oai(status = 404)]
        NotFound(ChatNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

api_response! {
    /// Answers of `PUT /v1/chats/{chat_id}/read`.
    pub enum MarkReadResponse {
        /// The marker now (it only moves forward).
        #[oai(status = 200)]
        Ok(Json<ReadMarkerSchema>),
    }
    errors {
        /// Bad input, or a bad cursor.
        #[oai(status = 400)]
        BadRequest(PageBadRequestError),
        /// No such chat for the caller.
        #[oai(status = 404)]
        NotFound(ChatNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The store is unavailable.";
}

/// Reads `Idempotency-Key` from the raw headers: the declared parameter skips values that
/// are not visible ASCII, and those must answer 400, not be ignored.
fn idempotency_key(req: &Request) -> Result<Option<IdempotencyKey>, Error> {
    match req.headers().get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().map_err(|_| Error::BadParameters)?;
            IdempotencyKey::parse(s).map(Some)
        }
    }
}

#[OpenApi(tag = "ApiTags::Chats")]
impl MessagesApi {
    /// Posts a message as one of the caller's members of the chat. The message is durable
    /// when this answers.
    #[oai(
        path = "/v1/chats/:chat_id/messages",
        method = "post",
        operation_id = "post_message"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn post_message(
        &self,
        session: Session,
        req: &Request,
        /// The chat's id.
        chat_id: Path<String>,
        /// The posting member (from joining this chat).
        user_id: Query<String>,
        /// Makes a retry safe: the same key, account, chat and body answer the first
        /// message's id and store nothing (kept at least 24 h). 1–255 visible ASCII
        /// characters.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: Header<Option<String>>,
        body: Json<NewMessage>,
    ) -> PostMessageResponse {
        let run = async {
            let text = MessageText::parse(body.0.message.into_inner())?;
            let key = idempotency_key(req)?;
            // Bad input answers first, then the chat; a malformed `user_id` waits for the
            // chat check (it is the member's 404, after the chat's).
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            self.messenger
                .post_message(&session.0, chat_id, MemberId::param(&user_id), text, key)
                .await
        };
        match run.await {
            Ok(id) => PostMessageResponse::Created(Json(MessagePosted {
                message_id: id.to_string(),
            })),
            Err(e) => e.into(),
        }
    }

    /// A page of the chat's messages, oldest first: after the cursor `from` (from the very
    /// first message without it), or — the newest-first way in — the messages just before
    /// the cursor `before` (`before=` empty: the newest messages). `next.iterator` always
    /// continues exactly where the page ends (at the end, the end as it is now, so polling
    /// with it returns exactly the messages posted since); `prev.iterator` goes back.
    #[oai(
        path = "/v1/chats/:chat_id/messages",
        method = "get",
        operation_id = "list_messages"
    )]
    async fn list_messages(
        &self,
        session: Session,
        /// The chat's id.
        chat_id: Path<String>,
        /// Page size: 1–1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<i64>,
        /// Where to continue: a `next.iterator` of an earlier page of this chat.
        from: Query<Option<String>>,
        /// Read back from here: a `prev.iterator`, or a summary's `end.iterator`; empty
        /// means the end of the chat. Not together with `from`.
        before: Query<Option<String>>,
    ) -> ListMessagesResponse {
        let run = async {
            let limit = Limit::messages(limit.0)?;
            // An empty `from` is no `from`; an empty `before` means the end.
            let from = cursor_param(from.0.as_deref());
            let anchor = match (from, before.0.as_deref()) {
                (Some(_), Some(_)) => return Err(Error::BadParameters.into()),
                (from, None) => PageAnchor::From(from),
                (None, Some(before)) => PageAnchor::Before(cursor_param(Some(before))),
            };
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            // Only the cursor's syntax here: its scope is checked after the chat's access.
            let page = self
                .messenger
                .read_messages(&session.0, chat_id, anchor, limit)
                .await?;
            Ok::<_, AppError>((page, limit))
        };
        match run.await {
            Ok((page, limit)) => ListMessagesResponse::Ok(match &self.rendered {
                Some(rendered) => rendered.answer(PageView(page), limit),
                None => PageView(page).into_answer(),
            }),
            Err(e) => e.into(),
        }
    }

    /// Moves the caller's read marker in the chat forward to the point the cursor marks
    /// (an earlier point leaves it where it is), and answers the marker as it is now.
    #[oai(
        path = "/v1/chats/:chat_id/read",
        method = "put",
        operation_id = "mark_read"
    )]
    async fn mark_read(
        &self,
        session: Session,
        /// The chat's id.
        chat_id: Path<String>,
        body: Json<MarkRead>,
    ) -> MarkReadResponse {
        let run = async {
            let position = UncheckedCursor::from_text(&body.0.iterator.0)?;
            let chat_id = ChatId::parse(&chat_id).ok_or(Error::ChatNotFound)?;
            self.messenger
                .mark_read(&session.0, chat_id, position)
                .await
        };
        match run.await {
            Ok(marker) => MarkReadResponse::Ok(Json(ReadMarkerSchema {
                read: Next {
                    iterator: marker.read.encode(),
                },
                unread_count: marker.unread_count,
            })),
            Err(e) => e.into(),
        }
    }
}

/// A cursor parameter as the use cases take it: absent or empty is `None` (the start for
/// `from`, the end for `before`); anything else is read, to be checked in its scope later.
pub fn cursor_param(raw: Option<&str>) -> Option<UncheckedCursor> {
    raw.filter(|s| !s.is_empty()).map(UncheckedCursor::parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_domain::{Cursor, CursorScope, Message, MessageId, Timestamp};
    use poem_openapi::types::ParseFromJSON;
    use serde_json::json;
    use std::sync::Arc;

    fn message(n: u128, text: &str) -> Message {
        Message {
            id: MessageId::from_u128(n),
            chat_id: ChatId::from_u128(7),
            seq: u64::try_from(n).unwrap(),
            user_id: MemberId::from_u128(0xabc),
            user_name: "Ann \"A\"".into(),
            text: text.into(),
            created_at: Timestamp::from_micros(1_795_766_686_123_456),
        }
    }

    fn page(n: u128) -> PageView<ChatPage> {
        PageView(ChatPage {
            messages: Arc::new((1..=n).map(|i| message(i, "hi\n\u{1F600}")).collect()),
            prev: None,
            next: Cursor::new(CursorScope::Chat(ChatId::from_u128(7)), 2),
        })
    }

    #[test]
    fn a_page_is_written_exactly_and_parses_as_its_schema() {
        let bytes = render(&page(1), 0).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({
                "messages": [{
                    "text": "hi\n\u{1F600}",
                    "message_id": "00000000000000000000000000000001",
                    "user_id": "00000000000000000000000000000abc",
                    "user_name": "Ann \"A\"",
                    "created_at": "2026-11-27T08:04:46.123456Z",
                }],
                "prev": null,
                "next": { "iterator": Cursor::new(CursorScope::Chat(ChatId::from_u128(7)), 2).encode() },
            })
        );
        assert!(MessagesPageSchema::parse_from_json(Some(v)).is_ok());
    }

    #[tokio::test]
    async fn full_pages_are_written_once_and_served_identically() {
        let rendered = RenderedPages::new(1 << 20);
        let limit = Limit::messages(3).unwrap();
        let first = rendered.answer(page(3), limit);
        assert_eq!(rendered.cache.entry_count(), 0, "moka counts lazily");
        rendered.cache.run_pending_tasks();
        assert_eq!(rendered.cache.entry_count(), 1);
        let again = rendered.answer(page(3), limit);
        let a = poem::IntoResponse::into_response(first)
            .into_body()
            .into_bytes()
            .await
            .unwrap();
        let b = poem::IntoResponse::into_response(again)
            .into_body()
            .into_bytes()
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, render(&page(3), 0).unwrap());
        // A partial page (the last one) is never kept: it grows.
        let _ = rendered.answer(page(2), limit);
        rendered.cache.run_pending_tasks();
        assert_eq!(rendered.cache.entry_count(), 1);
    }
}
