//! Accounts and sessions: register, login, logout.

use super::{types::Text, ApiTags};
use crate::http::{answers::api_response, client_addr::ClientAddress, security::Session};
use messenger_domain::{Password, UserName};
use messenger_ports::Messenger;
use poem::http::{header, HeaderMap};
use poem_openapi::{payload::Json, Object, OpenApi};

/// The account routes.
pub struct AuthApi {
    messenger: Messenger,
}

impl AuthApi {
    /// Over these use cases.
    pub fn new(messenger: Messenger) -> Self {
        Self { messenger }
    }
}

/// A user name and password (register and login).
#[derive(Object)]
pub struct Credentials {
    /// The account's name: 1–255 characters, not only whitespace; unique, case-sensitively.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_name: Text,
    /// 1–1024 characters.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: Text,
}

/// A new session.
#[derive(Object)]
pub struct SessionCreated {
    /// The session token (32 hex digits): send it as `Authorization: session_id <token>`.
    pub session_id: String,
}

api_response! {
    /// Answers of `POST /v1/auth/register`.
    pub enum RegisterResponse {
        /// Registered (no body).
        #[oai(status = 201)]
        Created,
    }
    errors {
        /// Bad input, or the name is taken.
        #[oai(status = 400)]
        BadRequest(RegisterBadRequestError),
    }
    throttled = "Too many requests or registrations from this address.";
    unavailable = "The store, or password-hashing capacity, is unavailable.";
}

api_response! {
    /// Answers of `POST /v1/auth/login`.
    pub enum LoginResponse {
        /// Logged in: a new session.
        #[oai(status = 201)]
        Created(Json<SessionCreated>),
    }
    errors {
        /// Bad input, an unknown name, or a wrong password.
        #[oai(status = 400)]
        BadRequest(LoginBadRequestError),
    }
    throttled = "Too many requests, or too many failed logins for this account.";
    unavailable = "The store, or password-hashing capacity, is unavailable.";
}

api_response! {
    /// Answers of `POST /v1/auth/logout`.
    pub enum LogoutResponse {
        /// Logged out (no body): the token is invalid everywhere from now on.
        #[oai(status = 200)]
        Ok,
    }
    errors {}
    session;
    throttled = "Too many requests.";
    unavailable = "The session store is unavailable.";
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Registers an account. Registrations are limited per client address.
    #[oai(path = "/v1/auth/register", method = "post", operation_id = "register")]
    async fn register(&self, client: ClientAddress, body: Json<Credentials>) -> RegisterResponse {
        let run = async {
            let Json(Credentials {
                user_name,
                password,
            }) = body;
            let name = UserName::parse(user_name.into_inner())?;
            let password = Password::parse(password.into_inner())?;
            self.messenger
                .register(name, password, client.as_str())
                .await
        };
        match run.await {
            Ok(()) => RegisterResponse::Created,
            Err(e) => e.into(),
        }
    }

    /// Logs in and returns a new session token (earlier tokens stay valid). Failed logins
    /// are limited per account and client address, and per account.
    #[oai(path = "/v1/auth/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        client: ClientAddress,
        headers: &HeaderMap,
        body: Json<Credentials>,
    ) -> LoginResponse {
        let run = async {
            let Json(Credentials {
                user_name,
                password,
            }) = body;
            let name = UserName::parse(user_name.into_inner())?;
            let password = Password::parse(password.into_inner())?;
            // A `User-Agent` that is not text is recorded as none.
            let agent = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok());
            self.messenger
                .login_with_agent(name, password, client.as_str(), agent)
                .await
        };
        match run.await {
            Ok(token) => LoginResponse::Created(Json(SessionCreated {
                session_id: token.as_str().to_owned(),
            })),
            Err(e) => e.into(),
        }
    }

    /// Ends the session: its token answers 401 `invalid-session-id` everywhere afterwards.
    #[oai(path = "/v1/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, session: Session) -> LogoutResponse {
        match self.messenger.logout(&session.0).await {
            Ok(()) => LogoutResponse::Ok,
            Err(e) => e.into(),
        }
    }
}
