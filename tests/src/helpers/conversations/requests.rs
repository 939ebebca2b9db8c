//! One request helper per conversation route (raw [`Reply`]) and `*_ok` variants that
//! assert success and return the typed answer.

use super::super::{encode_query_value, is_lower_hex_32, Auth, Message, Reply, TestApp};
use super::types::{
    parse_message_page, parse_summary, rfc3339_micros, ChatList, ChatSummary, Member, MemberPage,
    MessagePage, ReadMarker,
};
use reqwest::Method;
use serde_json::{json, Value};

impl TestApp {
    // ---- the chat list, one chat, renaming ----

    /// `GET /v1/chats?limit=…[&from=…]`, `limit` sent verbatim.
    pub async fn list_chats(
        &self,
        auth: impl Into<Auth>,
        limit: &str,
        from: Option<&str>,
    ) -> Reply {
        let mut path = format!("/v1/chats?limit={}", encode_query_value(limit));
        if let Some(from) = from {
            path.push_str(&format!("&from={}", encode_query_value(from)));
        }
        self.raw(Method::GET, &path, auth, &[], None).await
    }

    /// A page of the chat list, asserting 200 and the answer's shape.
    pub async fn list_chats_ok(
        &self,
        auth: impl Into<Auth>,
        limit: u32,
        from: Option<&str>,
    ) -> ChatList {
        let reply = self.list_chats(auth, &limit.to_string(), from).await;
        reply.assert_status(200, "list chats");
        let body = reply.json();
        let chats = body["chats"]
            .as_array()
            .unwrap_or_else(|| panic!("list chats: no chats array: {reply}"));
        for summary in chats {
            parse_summary(summary, "list chats");
        }
        let list: ChatList = serde_json::from_value(body)
            .unwrap_or_else(|e| panic!("not a chat list ({e}): {reply}"));
        assert!(
            !list.next.iterator.is_empty(),
            "list chats: an empty next.iterator: {reply}"
        );
        assert!(
            is_lower_hex_32(&list.events.iterator),
            "list chats: events.iterator is not 32 lowercase hex: {reply}"
        );
        assert!(
            list.chats.len() <= limit as usize,
            "list chats: a page longer than its limit {limit}: {reply}"
        );
        list
    }

    /// The caller's whole chat list, paging with `limit` until an empty page (at most
    /// 1,000 pages, so a cursor that never moves on fails instead of looping).
    pub async fn all_chats(&self, auth: impl Into<Auth>, limit: u32) -> Vec<ChatSummary> {
        let auth = auth.into();
        let mut all = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..1000 {
            let page = self.list_chats_ok(&auth, limit, from.as_deref()).await;
            if page.chats.is_empty() {
                return all;
            }
            all.extend(page.chats);
            from = Some(page.next.iterator);
        }
        panic!("the chat list did not end within 1,000 pages of {limit}");
    }

    /// `GET /v1/chats/{chat_id}`.
    pub async fn chat_summary(&self, auth: impl Into<Auth>, chat_id: &str) -> Reply {
        let path = format!("/v1/chats/{chat_id}");
        self.raw(Method::GET, &path, auth, &[], None).await
    }

    /// One chat's summary, asserting 200 and its shape.
    pub async fn chat_summary_ok(&self, auth: impl Into<Auth>, chat_id: &str) -> ChatSummary {
        let reply = self.chat_summary(auth, chat_id).await;
        reply.assert_status(200, "chat summary");
        parse_summary(&reply.json(), "chat summary")
    }

    /// `PATCH /v1/chats/{chat_id}` with this JSON body (`None`: no body at all).
    pub async fn patch_chat(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        body: Option<&Value>,
    ) -> Reply {
        let path = format!("/v1/chats/{chat_id}");
        self.raw(Method::PATCH, &path, auth, &[], body).await
    }

    /// `PATCH /v1/chats/{chat_id}` `{"chat_name": chat_name}`.
    pub async fn rename_chat(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        chat_name: &str,
    ) -> Reply {
        let body = json!({ "chat_name": chat_name });
        self.patch_chat(auth, chat_id, Some(&body)).await
    }

    /// Renames, asserting 200, and returns the summary it answers.
    pub async fn rename_chat_ok(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        chat_name: &str,
    ) -> ChatSummary {
        let reply = self.rename_chat(auth, chat_id, chat_name).await;
        reply.assert_status(200, "rename chat");
        parse_summary(&reply.json(), "rename chat")
    }

    // ---- messages with `before` and `prev` ----

    /// `GET /v1/chats/{chat_id}/messages?<query>` with `query` sent verbatim (for
    /// combinations the typed helpers do not make).
    pub async fn get_messages_query(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        query: &str,
    ) -> Reply {
        let path = format!("/v1/chats/{chat_id}/messages?{query}");
        self.raw(Method::GET, &path, auth, &[], None).await
    }

    /// `GET /v1/chats/{chat_id}/messages?limit=…&before=…`, both sent (encoded) verbatim.
    pub async fn get_messages_before(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: &str,
        before: &str,
    ) -> Reply {
        let query = format!(
            "limit={}&before={}",
            encode_query_value(limit),
            encode_query_value(before)
        );
        self.get_messages_query(auth, chat_id, &query).await
    }

    /// A `before=` page (`""`: the end of the chat), asserting 200 and its shape.
    pub async fn before_page_ok(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: u32,
        before: &str,
    ) -> MessagePage {
        let reply = self
            .get_messages_before(auth, chat_id, &limit.to_string(), before)
            .await;
        parse_message_page(&reply, limit, &format!("read before {before:?}"))
    }

    /// A `from=` page (or the first page), as [`TestApp::page_ok`] but keeping `prev`.
    pub async fn from_page_ok(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: u32,
        from: Option<&str>,
    ) -> MessagePage {
        let reply = self
            .get_messages(auth, chat_id, &limit.to_string(), from)
            .await;
        parse_message_page(&reply, limit, &format!("read from {from:?}"))
    }

    /// Every message from the end back to the first, by following `prev` from
    /// `before=""` with `limit`; returned oldest first. Asserts every page is oldest first
    /// and that pages meet exactly (each page ends where the later one's `prev` points).
    pub async fn all_messages_backwards(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: u32,
    ) -> Vec<Message> {
        let auth = auth.into();
        let mut pages: Vec<Vec<Message>> = Vec::new();
        let mut before = String::new();
        for _ in 0..100_000 {
            let page = self.before_page_ok(&auth, chat_id, limit, &before).await;
            match page.prev {
                Some(prev) => {
                    assert_eq!(
                        page.messages.len(),
                        limit as usize,
                        "a page with a prev before it is not full (limit {limit})"
                    );
                    pages.push(page.messages);
                    before = prev.iterator;
                }
                None => {
                    pages.push(page.messages);
                    return pages.into_iter().rev().flatten().collect();
                }
            }
        }
        panic!("paging back did not reach the first message");
    }

    // ---- read markers ----

    /// `PUT /v1/chats/{chat_id}/read` with this JSON body (`None`: no body at all).
    pub async fn put_read(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        body: Option<&Value>,
    ) -> Reply {
        let path = format!("/v1/chats/{chat_id}/read");
        self.raw(Method::PUT, &path, auth, &[], body).await
    }

    /// `PUT /v1/chats/{chat_id}/read` `{"iterator": iterator}`.
    pub async fn mark_read(&self, auth: impl Into<Auth>, chat_id: &str, iterator: &str) -> Reply {
        let body = json!({ "iterator": iterator });
        self.put_read(auth, chat_id, Some(&body)).await
    }

    /// Marks read, asserting 200 and the answer's exact shape.
    pub async fn mark_read_ok(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        iterator: &str,
    ) -> ReadMarker {
        let reply = self.mark_read(auth, chat_id, iterator).await;
        reply.assert_status(200, "mark read");
        let body = reply.json();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap_or_else(|| panic!("mark read: not an object: {reply}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.contains(&"read") && keys.contains(&"unread_count"),
            "mark read: the answer lacks read or unread_count: {reply}"
        );
        let marker: ReadMarker = serde_json::from_value(body)
            .unwrap_or_else(|e| panic!("mark read: not a marker ({e}): {reply}"));
        assert!(
            is_lower_hex_32(&marker.read.iterator),
            "mark read: read.iterator is not 32 lowercase hex: {reply}"
        );
        marker
    }

    // ---- members ----

    /// `GET /v1/chats/{chat_id}/users?limit=…[&from=…]`, `limit` sent verbatim.
    pub async fn list_members(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: &str,
        from: Option<&str>,
    ) -> Reply {
        let mut path = format!(
            "/v1/chats/{chat_id}/users?limit={}",
            encode_query_value(limit)
        );
        if let Some(from) = from {
            path.push_str(&format!("&from={}", encode_query_value(from)));
        }
        self.raw(Method::GET, &path, auth, &[], None).await
    }

    /// A page of members, asserting 200 and the page's shape.
    pub async fn members_ok(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: u32,
        from: Option<&str>,
    ) -> MemberPage {
        let reply = self
            .list_members(auth, chat_id, &limit.to_string(), from)
            .await;
        reply.assert_status(200, "list members");
        let page: MemberPage = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("not a page of members ({e}): {reply}"));
        assert!(
            !page.next.iterator.is_empty(),
            "list members: an empty next.iterator: {reply}"
        );
        assert!(
            page.users.len() <= limit as usize,
            "list members: a page longer than its limit {limit}: {reply}"
        );
        for member in &page.users {
            rfc3339_micros(&member.joined_at);
        }
        page
    }

    /// Every current member of a chat, in joining order, paging with `limit` until an
    /// empty page (at most 10,000 pages).
    pub async fn all_members(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        limit: u32,
    ) -> Vec<Member> {
        let auth = auth.into();
        let mut all = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..10_000 {
            let page = self
                .members_ok(&auth, chat_id, limit, from.as_deref())
                .await;
            if page.users.is_empty() {
                return all;
            }
            all.extend(page.users);
            from = Some(page.next.iterator);
        }
        panic!("the member list did not end within 10,000 pages of {limit}");
    }

    /// `DELETE /v1/chats/{chat_id}/users/{user_id}`.
    pub async fn remove_member(
        &self,
        auth: impl Into<Auth>,
        chat_id: &str,
        user_id: &str,
    ) -> Reply {
        let path = format!("/v1/chats/{chat_id}/users/{user_id}");
        self.raw(Method::DELETE, &path, auth, &[], None).await
    }

    /// Removes (or leaves), asserting 200 with an empty body.
    pub async fn remove_member_ok(&self, auth: impl Into<Auth>, chat_id: &str, user_id: &str) {
        self.remove_member(auth, chat_id, user_id)
            .await
            .assert_empty(200, "remove member");
    }

    /// The chat's end cursor as its summary gives it, for the caller.
    pub async fn end_of(&self, auth: impl Into<Auth>, chat_id: &str) -> String {
        self.chat_summary_ok(auth, chat_id).await.end.iterator
    }
}
