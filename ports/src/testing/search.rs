//! [`MessageSearch`]: a fixed corpus in three fresh chats, and for each query the exact
//! hits every adapter must give, in order.

use super::support::{chat_by, fresh_account, ok, unique_name, unique_u128, wall_now};
use crate::{
    Accounts, AppendOutcome, Chats, Members, MessageSearch, Messages, NewMessage, SearchScope,
};
use messenger_domain::{
    AccountId, ChatId, Member, MemberId, Message, MessageId, SearchHit, SearchQuery, Timestamp,
};
use std::time::Duration;

/// Runs every check of [`MessageSearch`] over one corpus of 16 messages in three fresh
/// chats (`accounts`, `chats`, `members` and `messages` build it):
/// - all words of a query are required, in any order; words match whole words only
///   (`brown` does not find `brownies`), case-insensitively, in any script (Cyrillic,
///   CJK, accented Latin; accents are not folded); text is split on every
///   non-alphanumeric character (`someone@example.com` is three words);
/// - a quoted phrase needs its words in a row (across punctuation), other words anywhere;
/// - `ChatsOf(account)` covers exactly the chats the account created (without joining)
///   or joined, sees a chat joined later (with its older messages) and new messages; an
///   account with no chats finds nothing; `AllChats` covers every chat (on a shared
///   store, only hits in this check's chats are looked at);
/// - hits come newest first by (`created_at`, `message_id`) — equal times are ordered by
///   id, not by insertion — with every field of the hit as stored, at most `cap` of them;
/// - a word longer than the tokenizer's limit (2,047 bytes) is skipped as if absent: the
///   other words of its message are found (a phrase across it too), and so is a long
///   word within the limit.
pub async fn search_suite(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
    messages: &dyn Messages,
    search: &dyn MessageSearch,
) {
    let corpus = Corpus::build(accounts, chats, members, messages).await;
    queries_find_exactly_the_expected_hits(&corpus, search).await;
    results_are_capped_newest_first(&corpus, search).await;
    scope_follows_joins_and_new_messages(&corpus, members, messages, search).await;
    overlong_words_are_skipped(accounts, chats, members, messages, search).await;
}

/// The texts of the corpus: (chat index, seconds after the base time, text). Every text
/// also ends with the corpus's unique marker word.
const TEXTS: [(usize, u64, &str); 16] = [
    (0, 1, "Hello world, this is the quick brown fox"),
    (0, 2, "The QUICK brown dog jumps over the lazy fox"),
    (0, 3, "brownies and nutbrown browns"),
    (0, 4, "Привет, мир! Как дела?"),
    (0, 5, "東京 タワー 見学"),
    (0, 6, "東京タワー"),
    (0, 7, "Café crème brûlée à Paris"),
    (0, 8, "ÉCOLE normale supérieure"),
    (0, 9, "e-mail: someone@example.com"),
    (0, 10, "Meeting in room 2024"),
    (1, 11, "hello world from the other side"),
    (1, 12, "quick brown fox in chat two"),
    (2, 13, "world hello in reversed order"),
    (2, 14, "the quick fox, brown and sly"),
    // Two messages at the same time in different chats: ordered by message id.
    (1, 15, "tie breaker quick brown"),
    (2, 15, "tie breaker quick brown"),
];

/// Each query and the indices (into [`TEXTS`]) of every message it matches.
const QUERIES: [(&str, &[usize]); 22] = [
    ("hello world", &[0, 10, 12]),
    ("WORLD hello", &[0, 10, 12]),
    ("\"hello world\"", &[0, 10]),
    ("\"world this\"", &[0]),
    ("brown", &[0, 1, 11, 13, 14, 15]),
    ("lazy brown fox", &[1]),
    ("\"quick brown\"", &[0, 1, 11, 14, 15]),
    ("“quick fox”", &[13]),
    ("\"brown quick\"", &[]),
    ("brownies", &[2]),
    ("nothing matches this", &[]),
    ("привет МИР", &[3]),
    ("東京 見学", &[4]),
    ("東京タワー", &[5]),
    ("CAFÉ crème", &[6]),
    ("cafe creme", &[]),
    ("école", &[7]),
    ("example", &[8]),
    ("someone@example.com", &[8]),
    ("\"example com\"", &[8]),
    ("2024 room", &[9]),
    ("breaker   TIE", &[14, 15]),
];

/// The corpus: who created and joined what, and the messages as stored.
pub struct Corpus {
    /// The three chats: 0 created and joined by `ann`, 1 created and joined by `bob`,
    /// 2 created by `bob` (never joined by him) and joined by `eve`.
    pub chats: [ChatId; 3],
    /// Created chat 0 and joined it.
    pub ann: AccountId,
    /// Created chats 1 and 2; joined chat 1 only.
    pub bob: AccountId,
    /// Joined chat 2.
    pub eve: AccountId,
    /// Neither created nor joined anything.
    pub nobody: AccountId,
    /// A word (unique to this corpus) that ends every text.
    pub marker: String,
    /// The messages, in the order of the corpus texts.
    pub messages: Vec<Message>,
    /// A member of chat 0, to post more.
    pub poster: Member,
}

fn member_of(chat: ChatId, account: AccountId, name: &str) -> Member {
    Member {
        id: MemberId::from_u128(unique_u128()),
        chat_id: chat,
        account_id: account,
        name: name.to_owned(),
        joined_at: wall_now(),
    }
}

impl Corpus {
    /// Stores the accounts, chats, members and messages of the corpus.
    pub async fn build(
        accounts: &dyn Accounts,
        chats: &dyn Chats,
        members: &dyn Members,
        messages: &dyn Messages,
    ) -> Self {
        let ann = fresh_account(accounts).await;
        let bob = fresh_account(accounts).await;
        let eve = fresh_account(accounts).await;
        let nobody = fresh_account(accounts).await;
        let creators = [ann, bob, bob];
        let mut chat_ids = [ChatId::from_u128(0); 3];
        for (slot, creator) in chat_ids.iter_mut().zip(creators) {
            let chat = chat_by(creator, &unique_name("search-"));
            ok(chats.insert_chat(&chat).await, "insert_chat");
            *slot = chat.id;
        }
        let mut posters = Vec::new();
        for (chat, (account, name)) in
            chat_ids
                .iter()
                .zip([(ann, "Ann"), (bob, "Bob"), (eve, "Eve")])
        {
            posters.push(ok(
                members.join(&member_of(*chat, account, name), true).await,
                "join",
            ));
        }

        let marker = unique_name("marker");
        let base = wall_now();
        let mut news: Vec<NewMessage> = TEXTS
            .iter()
            .map(|(chat, secs, text)| NewMessage {
                id: MessageId::from_u128(unique_u128()),
                chat_id: chat_ids[*chat],
                user_id: posters[*chat].id,
                account: Some(posters[*chat].account_id),
                text: format!("{text} {marker}"),
                now: base.plus(Duration::from_secs(*secs)),
                idempotency: None,
            })
            .collect();
        // The tied pair: store the larger id first, so insertion order cannot pass for
        // the id order.
        if news[14].id < news[15].id {
            let (a, b) = (news[14].id, news[15].id);
            news[14].id = b;
            news[15].id = a;
        }
        let mut stored = Vec::new();
        for new in news {
            match ok(messages.append(new).await, "append") {
                AppendOutcome::Stored(m) => stored.push(m),
                other => panic!("building the search corpus: expected Stored, got {other:?}"),
            }
        }
        Self {
            chats: chat_ids,
            ann,
            bob,
            eve,
            nobody,
            marker,
            messages: stored,
            poster: posters[0].clone(),
        }
    }

    /// The expected hits: the given messages that lie in `chats`, newest first.
    fn expected(&self, matching: &[usize], chats: &[ChatId]) -> Vec<SearchHit> {
        let mut hits: Vec<SearchHit> = matching
            .iter()
            .map(|&i| &self.messages[i])
            .filter(|m| chats.contains(&m.chat_id))
            .map(hit_of)
            .collect();
        sort_newest_first(&mut hits);
        hits
    }
}

fn hit_of(m: &Message) -> SearchHit {
    SearchHit {
        message_id: m.id,
        chat_id: m.chat_id,
        text: m.text.clone(),
        user_name: m.user_name.clone(),
        created_at: m.created_at,
    }
}

fn sort_newest_first(hits: &mut [SearchHit]) {
    hits.sort_by_key(|h| std::cmp::Reverse((h.created_at, h.message_id)));
}

#[track_caller]
fn query(text: &str) -> SearchQuery {
    match SearchQuery::parse(text) {
        Ok(q) => q,
        Err(e) => panic!("the suite's own query {text:?} does not parse: {e}"),
    }
}

/// Short descriptions of hits, for failure messages.
fn describe(hits: &[SearchHit]) -> Vec<(String, i64)> {
    hits.iter()
        .map(|h| (h.text.clone(), h.created_at.as_micros()))
        .collect()
}

async fn run(
    search: &dyn MessageSearch,
    scope: SearchScope,
    text: &str,
    cap: u32,
) -> Vec<SearchHit> {
    ok(
        search.search(scope, &query(text), cap).await,
        &format!("search({scope:?}, {text:?})"),
    )
}

#[track_caller]
fn assert_hits(got: &[SearchHit], want: &[SearchHit], what: &str) {
    assert!(
        got == want,
        "{what}: wrong hits.\n expected: {:?}\n      got: {:?}",
        describe(want),
        describe(got)
    );
}

/// Every query of the table, in every scope, gives exactly its expected hits in order.
pub async fn queries_find_exactly_the_expected_hits(corpus: &Corpus, search: &dyn MessageSearch) {
    let [c0, c1, c2] = corpus.chats;
    let scopes: [(&str, SearchScope, Vec<ChatId>); 4] = [
        (
            "ann (created and joined chat 0)",
            SearchScope::ChatsOf(corpus.ann),
            vec![c0],
        ),
        (
            "bob (created chats 1 and 2, joined only 1)",
            SearchScope::ChatsOf(corpus.bob),
            vec![c1, c2],
        ),
        (
            "eve (joined chat 2)",
            SearchScope::ChatsOf(corpus.eve),
            vec![c2],
        ),
        (
            "an account without chats",
            SearchScope::ChatsOf(corpus.nobody),
            vec![],
        ),
    ];
    for (text, matching) in QUERIES {
        for (who, scope, covered) in &scopes {
            let got = run(search, *scope, text, 1000).await;
            let want = corpus.expected(matching, covered);
            assert_hits(&got, &want, &format!("query {text:?} as {who}"));
        }
        // Every chat: the marker keeps other data of a shared store out of the way, and
        // only hits in this corpus's chats are compared.
        let scoped = format!("{text} {}", corpus.marker);
        let got: Vec<SearchHit> = run(search, SearchScope::AllChats, &scoped, 1000)
            .await
            .into_iter()
            .filter(|h| corpus.chats.contains(&h.chat_id))
            .collect();
        let want = corpus.expected(matching, &corpus.chats);
        assert_hits(&got, &want, &format!("query {scoped:?} over all chats"));
    }
}

/// At most `cap` hits, and they are the newest ones.
pub async fn results_are_capped_newest_first(corpus: &Corpus, search: &dyn MessageSearch) {
    let [_, c1, c2] = corpus.chats;
    let scope = SearchScope::ChatsOf(corpus.bob);
    let all = corpus.expected(&[0, 1, 11, 13, 14, 15], &[c1, c2]);
    assert_eq!(all.len(), 4, "the corpus has 4 hits for bob's \"brown\"");
    for cap in [1u32, 2, 3, 4, 5] {
        let got = run(search, scope, "brown", cap).await;
        let n = (cap as usize).min(all.len());
        assert_hits(&got, &all[..n], &format!("query \"brown\" with cap {cap}"));
    }
    let got: Vec<SearchHit> = run(
        search,
        SearchScope::AllChats,
        &format!("brown {}", corpus.marker),
        2,
    )
    .await;
    let want = corpus.expected(&[0, 1, 11, 13, 14, 15], &corpus.chats);
    assert_hits(
        &got,
        &want[..2],
        "query \"brown\" over all chats with cap 2",
    );
}

/// A chat joined later is searched (with its older messages); a new message is found at
/// once. Run it after the other checks on the same corpus: it joins `ann` to chat 2.
pub async fn scope_follows_joins_and_new_messages(
    corpus: &Corpus,
    members: &dyn Members,
    messages: &dyn Messages,
    search: &dyn MessageSearch,
) {
    let [c0, _, c2] = corpus.chats;
    let brown = [0, 1, 11, 13, 14, 15];
    let scope = SearchScope::ChatsOf(corpus.ann);
    ok(
        members.join(&member_of(c2, corpus.ann, "Ann"), true).await,
        "join",
    );
    let got = run(search, scope, "brown", 1000).await;
    assert_hits(
        &got,
        &corpus.expected(&brown, &[c0, c2]),
        "query \"brown\" by ann after she joined chat 2 (its older messages included)",
    );

    let last = corpus
        .messages
        .iter()
        .map(|m| m.created_at)
        .max()
        .unwrap_or(Timestamp::from_micros(0));
    let new = NewMessage {
        id: MessageId::from_u128(unique_u128()),
        chat_id: c0,
        user_id: corpus.poster.id,
        account: Some(corpus.poster.account_id),
        text: format!("a late BROWN arrival {}", corpus.marker),
        now: last.plus(Duration::from_secs(1)),
        idempotency: None,
    };
    let late = match ok(messages.append(new).await, "append") {
        AppendOutcome::Stored(m) => m,
        other => panic!("expected Stored, got {other:?}"),
    };
    let mut want = corpus.expected(&brown, &[c0, c2]);
    want.insert(0, hit_of(&late));
    let got = run(search, scope, "brown", 1000).await;
    assert_hits(
        &got,
        &want,
        "query \"brown\" after a new message (found at once)",
    );
    let got = run(
        search,
        SearchScope::ChatsOf(corpus.eve),
        "late arrival",
        1000,
    )
    .await;
    assert_hits(
        &got,
        &[],
        "eve must not see a message of a chat she never joined",
    );
}

/// A message holding a word of 2,046 bytes, one of 2,049 bytes (over the tokenizer's
/// limit: skipped, as if absent) and an ordinary word: the ordinary word and the long
/// word within the limit find it, also as a phrase across the skipped word.
pub async fn overlong_words_are_skipped(
    accounts: &dyn Accounts,
    chats: &dyn Chats,
    members: &dyn Members,
    messages: &dyn Messages,
    search: &dyn MessageSearch,
) {
    let account = fresh_account(accounts).await;
    let chat = chat_by(account, &unique_name("search-long-"));
    ok(chats.insert_chat(&chat).await, "insert_chat");
    let poster = ok(
        members
            .join(&member_of(chat.id, account, "Long"), true)
            .await,
        "join",
    );
    // Three bytes per character: 682 characters are 2,046 bytes, 683 are 2,049.
    let within = "東".repeat(682);
    let over = "京".repeat(683);
    let marker = unique_name("zebra");
    let new = NewMessage {
        id: MessageId::from_u128(unique_u128()),
        chat_id: chat.id,
        user_id: poster.id,
        account: Some(poster.account_id),
        text: format!("{within} {over} {marker}"),
        now: wall_now(),
        idempotency: None,
    };
    let stored = match ok(messages.append(new).await, "append a text with long words") {
        AppendOutcome::Stored(m) => m,
        other => panic!("expected Stored, got {other:?}"),
    };
    let scope = SearchScope::ChatsOf(account);
    let want = [hit_of(&stored)];
    let got = run(search, scope, &marker, 10).await;
    assert_hits(&got, &want, "an ordinary word next to an over-long one");
    let got = run(search, scope, &within, 10).await;
    assert_hits(&got, &want, "a word of 2,046 bytes (within the limit)");
    let got = run(search, scope, &format!("{within} {marker}"), 10).await;
    assert_hits(&got, &want, "both words");
    let got = run(search, scope, &format!("\"{within} {marker}\""), 10).await;
    assert_hits(
        &got,
        &want,
        "a phrase around a skipped word (skipped words are as if absent, so the words on \
         either side are in a row)",
    );
}
