//! Events as the wire shows them: the `data` object of each event type (API.md, "Live
//! updates"), shared by the stream's frames and the long poll's entries.

use messenger_domain::{Event, LoggedEvent, Message};
use serde_json::{json, Value};

/// The wire type of a reset (the requested position is older than the retention).
pub const RESET: &str = "reset";

/// Why a reset happened, as its `data.reason` says.
pub const RESET_REASON: &str = "position-expired";

/// A message as every answer shows it.
fn message_json(m: &Message) -> Value {
    json!({
        "text": m.text,
        "message_id": m.id.to_string(),
        "user_id": m.user_id.to_string(),
        "user_name": m.user_name,
        "created_at": m.created_at.to_rfc3339(),
    })
}

/// The `data` of an event.
pub fn data(event: &Event) -> Value {
    match event {
        Event::MessageCreated { message } => json!({
            "chat_id": message.chat_id.to_string(),
            "message": message_json(message),
        }),
        Event::MemberJoined {
            chat_id,
            user_id,
            user_name,
            ..
        } => json!({
            "chat_id": chat_id.to_string(),
            "user": { "user_id": user_id.to_string(), "user_name": user_name },
        }),
        Event::MemberLeft {
            chat_id,
            user_id,
            removed,
            ..
        } => json!({
            "chat_id": chat_id.to_string(),
            "user_id": user_id.to_string(),
            "removed": removed,
        }),
        Event::ChatCreated {
            chat_id, chat_name, ..
        }
        | Event::ChatRenamed { chat_id, chat_name } => json!({
            "chat": { "chat_id": chat_id.to_string(), "chat_name": chat_name },
        }),
        Event::ReadUpdated {
            chat_id,
            unread_count,
            ..
        } => json!({
            "chat_id": chat_id.to_string(),
            "read": { "iterator": event.read_cursor().map(|c| c.encode()).unwrap_or_default() },
            "unread_count": unread_count,
        }),
    }
}

/// The `data` of a reset.
pub fn reset_data() -> Value {
    json!({ "reason": RESET_REASON })
}

/// One event as `(id, type, data)`.
pub fn wire(e: &LoggedEvent) -> (String, &'static str, Value) {
    (e.position.encode(), e.event.type_name(), data(&e.event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger_domain::{AccountId, ChatId, MemberId, MessageId, Timestamp};

    #[test]
    fn each_type_has_the_data_of_the_contract() {
        let chat = ChatId::from_u128(1);
        let message = Message {
            id: MessageId::from_u128(2),
            chat_id: chat,
            seq: 3,
            user_id: MemberId::from_u128(4),
            user_name: "Ann".into(),
            text: "<b>hi</b>".into(),
            created_at: Timestamp::from_micros(1_795_766_686_123_456),
        };
        let v = data(&Event::MessageCreated { message });
        assert_eq!(v["chat_id"], chat.to_string());
        assert_eq!(v["message"]["text"], "<b>hi</b>");
        assert_eq!(v["message"]["created_at"], "2026-11-27T08:04:46.123456Z");
        let v = data(&Event::MemberLeft {
            chat_id: chat,
            user_id: MemberId::from_u128(4),
            removed: true,
            account: AccountId::from_u128(9),
            reads_after: false,
        });
        assert_eq!(
            v,
            json!({"chat_id": chat.to_string(), "user_id": MemberId::from_u128(4).to_string(), "removed": true})
        );
        let v = data(&Event::ReadUpdated {
            chat_id: chat,
            account: AccountId::from_u128(9),
            read_seq: 5,
            unread_count: 2,
        });
        assert_eq!(v["unread_count"], 2);
        assert_eq!(v["read"]["iterator"].as_str().map(str::len), Some(32));
        let v = data(&Event::ChatRenamed {
            chat_id: chat,
            chat_name: "new".into(),
        });
        assert_eq!(
            v,
            json!({"chat": {"chat_id": chat.to_string(), "chat_name": "new"}})
        );
    }
}
