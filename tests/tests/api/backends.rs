//! Each backend's run uses its backend: over Redis, what the service shares between
//! instances (here, the session a login makes) is in Redis under the service's key prefix,
//! not only in the in-process fallback. (Every service the harness starts over Redis also
//! fails its test at once when Redis does not answer.)

use crate::prelude::*;

async fn a_session_is_kept_in_the_backends_redis(backend: Backend) {
    let uses_redis = backend.redis_url.is_some();
    let app = spawn_app(TestOptions::new(backend)).await;
    let user = app.new_user().await;
    app.list_chats(&user, "10", None)
        .await
        .assert_status(200, "an authenticated request");
    let keys = app.redis_keys().await;
    if !uses_redis {
        assert!(keys.is_empty(), "no Redis, no keys: {keys:?}");
        return;
    }
    let prefix = &app.redis.as_ref().unwrap().key_prefix;
    let sessions: Vec<_> = keys
        .iter()
        .filter(|k| k.starts_with(&format!("{prefix}session:")))
        .collect();
    assert!(
        !sessions.is_empty(),
        "after a login and an authenticated request, no session key under {prefix} in Redis \
         (keys there: {keys:?})"
    );
}

backend_tests!(a_session_is_kept_in_the_backends_redis);
