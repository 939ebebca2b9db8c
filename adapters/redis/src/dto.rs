//! How domain values are written to Redis: small serde structs, so the domain crate stays
//! free of serialisation. Ids are their 32-hex form, times microseconds since the epoch.
//! Field names are short: a page holds up to a few hundred messages.

use messenger_domain::{
    AccountId, ChatId, MemberId, Message, MessageId, SearchHit, Session, Timestamp, TokenHash,
};
use messenger_ports::PortError;
use serde::{Deserialize, Serialize};

/// Data read back from Redis that does not decode: written by something else, or corrupt.
fn corrupt(what: &str) -> PortError {
    PortError::Internal(format!("corrupt {what} in Redis"))
}

fn parse_id<T>(s: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T, PortError> {
    parse(s).ok_or_else(|| corrupt(what))
}

/// A message of a cached page (its chat is the page's).
#[derive(Serialize, Deserialize)]
pub(crate) struct MessageDto {
    i: String,
    s: u64,
    u: String,
    n: String,
    t: String,
    c: i64,
}

/// A cached page: the chat once, then its messages.
#[derive(Serialize, Deserialize)]
pub(crate) struct PageDto {
    chat: String,
    messages: Vec<MessageDto>,
}

impl PageDto {
    pub(crate) fn from_messages(chat: ChatId, page: &[Message]) -> Self {
        Self {
            chat: chat.to_string(),
            messages: page
                .iter()
                .map(|m| MessageDto {
                    i: m.id.to_string(),
                    s: m.seq,
                    u: m.user_id.to_string(),
                    n: m.user_name.clone(),
                    t: m.text.clone(),
                    c: m.created_at.as_micros(),
                })
                .collect(),
        }
    }

    pub(crate) fn into_messages(self, expected_chat: ChatId) -> Result<Vec<Message>, PortError> {
        let chat = parse_id(&self.chat, ChatId::parse, "page")?;
        if chat != expected_chat {
            return Err(corrupt("page (another chat's)"));
        }
        self.messages
            .into_iter()
            .map(|m| {
                Ok(Message {
                    id: parse_id(&m.i, MessageId::parse, "page")?,
                    chat_id: chat,
                    seq: m.s,
                    user_id: parse_id(&m.u, MemberId::parse, "page")?,
                    user_name: m.n,
                    text: m.t,
                    created_at: Timestamp::from_micros(m.c),
                })
            })
            .collect()
    }
}

/// A cached session. The client's address and agent are optional in the JSON, so entries
/// cached before they were recorded still read.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionDto {
    account: String,
    created: i64,
    expires: i64,
    revoked: bool,
    #[serde(default)]
    addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
}

impl SessionDto {
    pub(crate) fn from_session(s: &Session) -> Self {
        Self {
            account: s.account_id.to_string(),
            created: s.created_at.as_micros(),
            expires: s.expires_at.as_micros(),
            revoked: s.revoked,
            addr: s.client_address.clone(),
            agent: s.user_agent.clone(),
        }
    }

    pub(crate) fn into_session(self, token_hash: TokenHash) -> Result<Session, PortError> {
        Ok(Session {
            token_hash,
            account_id: parse_id(&self.account, AccountId::parse, "session")?,
            created_at: Timestamp::from_micros(self.created),
            expires_at: Timestamp::from_micros(self.expires),
            revoked: self.revoked,
            client_address: self.addr,
            user_agent: self.agent,
        })
    }
}

/// A search hit (one element of a task's result list).
#[derive(Serialize, Deserialize)]
pub(crate) struct HitDto {
    m: String,
    c: String,
    t: String,
    u: String,
    at: i64,
}

impl HitDto {
    pub(crate) fn from_hit(h: &SearchHit) -> Self {
        Self {
            m: h.message_id.to_string(),
            c: h.chat_id.to_string(),
            t: h.text.clone(),
            u: h.user_name.clone(),
            at: h.created_at.as_micros(),
        }
    }

    pub(crate) fn into_hit(self) -> Result<SearchHit, PortError> {
        Ok(SearchHit {
            message_id: parse_id(&self.m, MessageId::parse, "search hit")?,
            chat_id: parse_id(&self.c, ChatId::parse, "search hit")?,
            text: self.t,
            user_name: self.u,
            created_at: Timestamp::from_micros(self.at),
        })
    }
}

/// JSON of a DTO (cannot fail for these plain structs; mapped anyway, never unwrapped).
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::Internal(format!("encoding: {e}")))
}

/// A DTO from JSON read back from Redis.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(s: &'a str, what: &str) -> Result<T, PortError> {
    serde_json::from_str(s).map_err(|_| corrupt(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(chat: ChatId, seq: u64) -> Message {
        Message {
            id: MessageId::from_u128(1000 + u128::from(seq)),
            chat_id: chat,
            seq,
            user_id: MemberId::from_u128(7),
            user_name: "Ann \"quoted\" ☃".into(),
            text: format!("text {seq}\nwith a newline"),
            created_at: Timestamp::from_micros(1_795_766_686_123_456 + i64::try_from(seq).unwrap()),
        }
    }

    #[test]
    fn pages_round_trip() {
        let chat = ChatId::from_u128(42);
        let page: Vec<_> = (1..=3).map(|s| message(chat, s)).collect();
        let json = to_json(&PageDto::from_messages(chat, &page)).unwrap();
        let back = from_json::<PageDto>(&json, "page")
            .unwrap()
            .into_messages(chat)
            .unwrap();
        assert_eq!(back, page);
    }

    #[test]
    fn a_page_of_another_chat_is_refused() {
        let chat = ChatId::from_u128(42);
        let json = to_json(&PageDto::from_messages(chat, &[message(chat, 1)])).unwrap();
        let err = from_json::<PageDto>(&json, "page")
            .unwrap()
            .into_messages(ChatId::from_u128(43))
            .unwrap_err();
        assert!(matches!(err, PortError::Internal(_)));
    }

    #[test]
    fn sessions_and_hits_round_trip() {
        let s = Session {
            token_hash: TokenHash([9; 32]),
            account_id: AccountId::from_u128(5),
            created_at: Timestamp::from_micros(1),
            expires_at: Timestamp::from_micros(2),
            revoked: false,
            client_address: "1.2.3.4".into(),
            user_agent: Some("agent/1".into()),
        };
        let json = to_json(&SessionDto::from_session(&s)).unwrap();
        let back = from_json::<SessionDto>(&json, "session").unwrap();
        assert_eq!(back.into_session(s.token_hash).unwrap(), s);
        let older = r#"{"account":"00000000000000000000000000000005","created":1,"expires":2,"revoked":false}"#;
        let back = from_json::<SessionDto>(older, "session").unwrap();
        assert_eq!(
            back.into_session(s.token_hash).unwrap(),
            Session {
                client_address: String::new(),
                user_agent: None,
                ..s
            },
            "an entry cached before addresses were recorded still reads"
        );

        let h = SearchHit {
            message_id: MessageId::from_u128(1),
            chat_id: ChatId::from_u128(2),
            text: "hello".into(),
            user_name: "bob".into(),
            created_at: Timestamp::from_micros(3),
        };
        let json = to_json(&HitDto::from_hit(&h)).unwrap();
        assert_eq!(
            from_json::<HitDto>(&json, "hit")
                .unwrap()
                .into_hit()
                .unwrap(),
            h
        );
    }

    #[test]
    fn garbage_is_internal_not_a_panic() {
        assert!(matches!(
            from_json::<SessionDto>("{not json", "session"),
            Err(PortError::Internal(_))
        ));
    }
}
