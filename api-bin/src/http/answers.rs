//! Each route's answers, declared once: [`api_response!`] writes a route's response enum
//! from its own answers (success, and the error answers only it gives) plus the shared
//! tail every route draws from — 401 for routes behind a session, 429 for throttled
//! routes, 503 for routes that touch a store, and 500 everywhere — and the conversion of
//! a use-case error into the right variant.
//!
//! The enums are ordinary `#[derive(ApiResponse)]` enums, so the spec is what poem-openapi
//! generates for them (the committed `openapi.json` test holds it byte for byte).

/// Declares a route's response enum and its `From<AppError>`.
///
/// ```text
/// api_response! {
///     /// Answers of `POST /v1/chats`.
///     pub enum CreateChatResponse {
///         /// Created; the caller is its creator.
///         #[oai(status = 201)]
///         Created(Json<ChatCreated>),
///     }
///     errors {
///         /// Bad input.
///         #[oai(status = 400)]
///         BadRequest(BadParametersError),
///     }
///     session;
///     throttled = "Too many requests.";
///     unavailable = "The store is unavailable.";
/// }
/// ```
///
/// `errors` lists the route's own error answers with their code-set bodies; an error goes
/// to the first whose set holds it. `session` adds 401, `throttled` 429 (with
/// `Retry-After`) and `unavailable` 503, each with the given description; 500 is always
/// there. An error the route cannot carry is a bug: logged, answered 500.
macro_rules! api_response {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$ok_meta:meta])* $ok:ident $(($ok_body:ty))? ),+ $(,)?
        }
        errors {
            $( $(#[$err_meta:meta])* $err:ident($err_body:ident) ),* $(,)?
        }
        $($tail:tt)*
    ) => {
        $crate::http::answers::api_response!(@tail
            [$(#[$meta])*] $name
            [
                $( $(#[$ok_meta])* $ok $(($ok_body))?, )+
                $( $(#[$err_meta])* $err(poem_openapi::payload::Json<$crate::http::errors::$err_body>), )*
            ]
            [ $( $err($err_body), )* ]
            $($tail)*
        );
    };
    (@tail $meta:tt $name:ident [$($variants:tt)*] [$($conv:tt)*] session; $($rest:tt)*) => {
        $crate::http::answers::api_response!(@tail $meta $name
            [
                $($variants)*
                #[doc = " No valid session."]
                #[oai(status = 401)]
                Unauthorized(poem_openapi::payload::Json<$crate::http::errors::AuthError>),
            ]
            [ $($conv)* Unauthorized(AuthError), ]
            $($rest)*
        );
    };
    (@tail $meta:tt $name:ident [$($variants:tt)*] [$($conv:tt)*] throttled = $doc:tt; $($rest:tt)*) => {
        $crate::http::answers::api_response!(@tail $meta $name
            [
                $($variants)*
                #[doc = $doc]
                #[oai(status = 429)]
                TooManyRequests(
                    poem_openapi::payload::Json<$crate::http::errors::RateLimitedError>,
                    #[doc = " Seconds until a retry can succeed."]
                    #[oai(header = "Retry-After")]
                    u64,
                ),
            ]
            [ $($conv)* TooManyRequests(retry), ]
            $($rest)*
        );
    };
    (@tail $meta:tt $name:ident [$($variants:tt)*] [$($conv:tt)*] unavailable = $doc:tt; $($rest:tt)*) => {
        $crate::http::answers::api_response!(@tail $meta $name
            [
                $($variants)*
                #[doc = $doc]
                #[oai(status = 503)]
                ServiceUnavailable(poem_openapi::payload::Json<$crate::http::errors::UnavailableError>),
            ]
            [ $($conv)* ServiceUnavailable(UnavailableError), ]
            $($rest)*
        );
    };
    (@tail [$($meta:tt)*] $name:ident [$($variants:tt)*] [$( $cvar:ident($cbody:ident), )*]) => {
        $($meta)*
        // An answer is built once per request and moved straight into the response: a
        // large success body beside small error variants costs nothing worth a box.
        #[allow(clippy::large_enum_variant)]
        #[derive(poem_openapi::ApiResponse)]
        pub enum $name {
            $($variants)*
            #[doc = " Something unexpected happened."]
            #[oai(status = 500)]
            InternalError(poem_openapi::payload::Json<$crate::http::errors::InternalError>),
        }

        impl From<messenger_ports::AppError> for $name {
            fn from(e: messenger_ports::AppError) -> Self {
                #[allow(unused_variables)]
                let e = $crate::http::errors::reduce(e);
                $( $crate::http::answers::api_response!(@try e, $cvar($cbody)); )*
                tracing::error!(code = e.code(), "an error this route does not declare; answering 500");
                Self::InternalError(poem_openapi::payload::Json(
                    $crate::http::errors::InternalError::new(),
                ))
            }
        }
    };
    (@try $e:ident, TooManyRequests(retry)) => {
        if let messenger_domain::Error::RequestLimitExceeded { retry_after_secs } = $e {
            return Self::TooManyRequests(
                poem_openapi::payload::Json($crate::http::errors::RateLimitedError {
                    message: $crate::http::errors::RateLimitedCode::RequestLimitExceeded,
                }),
                retry_after_secs,
            );
        }
    };
    (@try $e:ident, $variant:ident($body:ident)) => {
        if let Some(b) =
            <$crate::http::errors::$body as $crate::http::errors::CodeSet>::from_error(&$e)
        {
            return Self::$variant(poem_openapi::payload::Json(b));
        }
    };
}
pub(crate) use api_response;
