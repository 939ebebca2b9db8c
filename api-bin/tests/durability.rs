//! Durability over PostgreSQL: the `messenger-api` binary killed hard (SIGKILL) while
//! messages are being posted, then started again on the same schema: every message that
//! was answered 201 is there, in order, and cursor paging is still exact.
//!
//! Runs when `MESSENGER_TEST_DATABASE_URL` is set; otherwise it says it is skipped.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test: failing loudly is the point

mod common;

use common::{drop_schema, free_port, fresh_schema, post_json, start, DATABASE_VAR};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn every_acknowledged_message_survives_a_hard_kill() {
    let Ok(url) = std::env::var(DATABASE_VAR) else {
        println!("skipped: {DATABASE_VAR} not set");
        return;
    };
    let schema = fresh_schema("messenger_durability");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let mut server = start(&url, &schema, port).await;
    let creds = json!({"user_name": "durable", "password": "durable-password"});
    let (s, _) = post_json(
        &client,
        &format!("{base}/v1/auth/register"),
        None,
        creds.clone(),
    )
    .await;
    assert_eq!(s, 201, "register");
    let (s, login) = post_json(&client, &format!("{base}/v1/auth/login"), None, creds).await;
    assert_eq!(s, 201, "login");
    let token = login["session_id"].as_str().expect("a token").to_owned();
    let (_, chat) = post_json(
        &client,
        &format!("{base}/v1/chats"),
        Some(&token),
        json!({"chat_name": "d"}),
    )
    .await;
    let chat = chat["chat_id"].as_str().expect("a chat id").to_owned();
    let (_, member) = post_json(
        &client,
        &format!("{base}/v1/chats/{chat}/users"),
        Some(&token),
        json!({"user_name": "d"}),
    )
    .await;
    let member = member["user_id"].as_str().expect("a user id").to_owned();

    // Eight posters; the server is killed while they run. Each keeps the texts answered 201.
    let post_url = format!("{base}/v1/chats/{chat}/messages?user_id={member}");
    let mut posters = Vec::new();
    for p in 0..8 {
        let (client, url, token) = (client.clone(), post_url.clone(), token.clone());
        posters.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..10_000 {
                let text = format!("poster {p} message {i}");
                let r = client
                    .post(&url)
                    .header("Authorization", format!("session_id {token}"))
                    .json(&json!({ "message": text }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => acknowledged.push(text),
                    _ => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
    server.wait().expect("the killed process is reaped");
    let mut acknowledged = HashSet::new();
    let mut per_poster = Vec::new();
    for p in posters {
        let texts = p.await.expect("a poster");
        per_poster.push(texts.clone());
        acknowledged.extend(texts);
    }
    assert!(
        acknowledged.len() > 8,
        "only {} posts were acknowledged before the kill",
        acknowledged.len()
    );

    // Start again on the same schema: the session is durable too.
    let mut server = start(&url, &schema, port).await;
    let mut stored = Vec::new();
    let mut from = String::new();
    loop {
        let r = client
            .get(format!(
                "{base}/v1/chats/{chat}/messages?limit=97&from={from}"
            ))
            .header("Authorization", format!("session_id {token}"))
            .send()
            .await
            .expect("a page");
        assert_eq!(r.status(), 200, "reading after the restart");
        let page: Value = r.json().await.expect("a JSON page");
        let messages = page["messages"].as_array().expect("messages").clone();
        from = page["next"]["iterator"].as_str().expect("next").to_owned();
        if messages.is_empty() {
            break;
        }
        stored.extend(
            messages
                .iter()
                .map(|m| m["text"].as_str().expect("text").to_owned()),
        );
    }
    server.kill().expect("stop the server");
    server.wait().expect("reaped");

    // Nothing repeated, nothing acknowledged missing, each poster's messages in its order.
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "a message was paged twice");
    for text in &acknowledged {
        assert!(unique.contains(text), "acknowledged message lost: {text}");
    }
    for texts in per_poster {
        let positions: Vec<usize> = texts
            .iter()
            .map(|t| stored.iter().position(|s| s == t).expect("present"))
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "a poster's messages out of order"
        );
    }
    println!(
        "{} acknowledged before SIGKILL, {} stored after the restart",
        acknowledged.len(),
        stored.len()
    );

    // Leave nothing behind.
    drop_schema(&url, &schema).await;
}
