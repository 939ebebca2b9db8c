//! Account safety: changing the password, signing out everywhere, and the caller's own
//! sessions (listing them, ending one).

use super::{types::DateTime, types::Text, ApiTags};
use crate::http::{answers::api_response, client_addr::ClientAddress, security::Session};
use messenger_domain::{Password, SessionPublicId};
use messenger_ports::{ListedSession, Messenger};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi};

/// The account-safety routes.
pub struct SessionsApi {
    messenger: Messenger,
}

impl SessionsApi {
    /// Over these use cases.
    pub fn new(messenger: Messenger) -> Self {
        Self { messenger }
    }
}

/// A password change.
#[derive(Object)]
pub struct PasswordChange {
    /// The current password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: Text,
    /// The new password: 1–1024 characters.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub new_password: Text,
}

/// One of the caller's live sessions.
#[derive(Object)]
#[oai(rename = "AccountSession")]
pub struct SessionSchema {
    /// The session's public id (32 hex digits): names it here and in
    /// `DELETE /v1/auth/sessions/{session_id}`. Never the token, and no way to it.
    pub session_id: String,
    /// When it logged in (RFC 3339, UTC).
    pub created_at: DateTime,
    /// When it stops being valid (RFC 3339, UTC).
    pub expires_at: DateTime,
    /// The client's address at login (an IPv4 address, or an IPv6 /64 prefix).
    pub client_address: String,
    /// The client's `User-Agent` at login (at most 256 characters); null when it sent
    /// none.
    #[oai(nullable)]
    pub user_agent: Option<String>,
    /// Whether this is the session making this request.
    pub current: bool,
}

impl From<ListedSession> for SessionSchema {
    fn from(l: ListedSession) -> Self {
        Self {
            session_id: l.session.public_id().to_string(),
            created_at: DateTime(l.session.created_at.to_rfc3339()),
            expires_at: DateTime(l.session.expires_at.to_rfc3339()),
            client_address: l.session.client_address,
            user_agent: l.session.user_agent,
            current: l.current,
        }
    }
}

/// The caller's live sessions.
#[derive(Object)]
#[oai(rename = "AccountSessions")]
pub struct SessionListSchema {
    /// Newest first.
    pub sessions: Vec<SessionSchema>,
}

api_response! {
    /// Answers of `POST /v1/auth/password`.
    pub enum ChangePasswordResponse {
        /// Changed (no body): every other session of the account has ended.
        #[oai(status = 200)]
        Ok,
    }
    errors {
        /// Bad input, or the current password is wrong.
        #[oai(status = 400)]
        BadRequest(PasswordBadRequestError),
    }
    session;
    throttled = "Too many requests, or too many wrong passwords for this account.";
    unavailable = "The store, or password-hashing capacity, is unavailable.";
}

api_response! {
    /// Answers of `POST /v1/auth/logout-all`.
    pub enum LogoutAllResponse {
        /// Every session of the account has ended, this one included (no body).
        #[oai(status = 200)]
        Ok,
    }
    errors {}
    session;
    throttled = "Too many requests.";
    unavailable = "The session store is unavailable.";
}

api_response! {
    /// Answers of `GET /v1/auth/sessions`.
    pub enum ListSessionsResponse {
        /// The caller's live sessions, newest first.
        #[oai(status = 200)]
        Ok(Json<SessionListSchema>),
    }
    errors {}
    session;
    throttled = "Too many requests.";
    unavailable = "The session store is unavailable.";
}

api_response! {
    /// Answers of `DELETE /v1/auth/sessions/{session_id}`.
    pub enum EndSessionResponse {
        /// The session has ended everywhere (no body).
        #[oai(status = 200)]
        Ok,
    }
    errors {
        /// No live session of the caller's account has this id.
        #[oai(status = 404)]
        NotFound(SessionNotFoundError),
    }
    session;
    throttled = "Too many requests.";
    unavailable = "The session store is unavailable.";
}

#[OpenApi(tag = "ApiTags::Auth")]
impl SessionsApi {
    /// Changes the password, given the current one, and ends every other session of the
    /// account (the calling one stays). A wrong current password counts as a failed login.
    #[oai(
        path = "/v1/auth/password",
        method = "post",
        operation_id = "change_password"
    )]
    async fn change_password(
        &self,
        session: Session,
        client: ClientAddress,
        body: Json<PasswordChange>,
    ) -> ChangePasswordResponse {
        let run = async {
            let Json(PasswordChange {
                password,
                new_password,
            }) = body;
            let current = Password::parse(password.into_inner())?;
            let new = Password::parse(new_password.into_inner())?;
            self.messenger
                .change_password(&session.0, current, new, client.as_str())
                .await
        };
        match run.await {
            Ok(()) => ChangePasswordResponse::Ok,
            Err(e) => e.into(),
        }
    }

    /// Ends every session of the account, this one included.
    #[oai(
        path = "/v1/auth/logout-all",
        method = "post",
        operation_id = "logout_all"
    )]
    async fn logout_all(&self, session: Session) -> LogoutAllResponse {
        match self.messenger.logout_all(&session.0).await {
            Ok(()) => LogoutAllResponse::Ok,
            Err(e) => e.into(),
        }
    }

    /// The caller's live sessions, newest first, the calling one marked `current`.
    #[oai(
        path = "/v1/auth/sessions",
        method = "get",
        operation_id = "list_sessions"
    )]
    async fn list_sessions(&self, session: Session) -> ListSessionsResponse {
        match self.messenger.list_sessions(&session.0).await {
            Ok(list) => ListSessionsResponse::Ok(Json(SessionListSchema {
                sessions: list.into_iter().map(SessionSchema::from).collect(),
            })),
            Err(e) => e.into(),
        }
    }

    /// Ends one of the caller's sessions (this one too, if named) on every instance.
    #[oai(
        path = "/v1/auth/sessions/:session_id",
        method = "delete",
        operation_id = "end_session"
    )]
    async fn end_session(
        &self,
        session: Session,
        /// The session's public id, from the list of sessions.
        session_id: Path<String>,
    ) -> EndSessionResponse {
        let id = SessionPublicId::parse(&session_id);
        match self.messenger.end_session(&session.0, id).await {
            Ok(()) => EndSessionResponse::Ok,
            Err(e) => e.into(),
        }
    }
}
