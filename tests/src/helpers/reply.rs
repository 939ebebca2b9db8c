//! An HTTP answer as the tests look at it, and a raw HTTP/1.1 exchange for requests an
//! ordinary client will not send (no `Content-Length`, chunked bodies, odd bytes).

use serde_json::Value;
use std::{net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A received answer: status, headers (names lowercased) and body bytes.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Reads a `reqwest` response.
    pub async fn from_response(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.bytes().await.expect("read the body").to_vec();
        Self {
            status,
            headers,
            body,
        }
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics naming `self` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self}"))
    }

    /// The `message` of an error body, if the body is `{"message": <string>}`.
    pub fn code(&self) -> Option<String> {
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        v.get("message")?.as_str().map(str::to_owned)
    }

    /// Asserts the status, naming `case` when it differs.
    #[track_caller]
    pub fn assert_status(&self, status: u16, case: &str) {
        assert_eq!(
            self.status, status,
            "{case}: expected status {status}, got {self}"
        );
    }

    /// Asserts an error answer: `status`, a JSON content type and exactly
    /// `{"message": code}`; names `case` when anything differs.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, case: &str) {
        assert!(
            self.status == status && self.code().as_deref() == Some(code),
            "{case}: expected {status} {code:?}, got {self}"
        );
        let body: Value = serde_json::from_slice(&self.body).expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({ "message": code }),
            "{case}: the error body has another shape"
        );
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{case}: error content type is {content_type:?}"
        );
    }

    /// Asserts a 429 `request-limit-exceeded` with a `Retry-After` of at least 1 whole
    /// second, and returns that number of seconds.
    #[track_caller]
    pub fn assert_throttled(&self, case: &str) -> u64 {
        self.assert_error(429, "request-limit-exceeded", case);
        let value = self
            .header("retry-after")
            .unwrap_or_else(|| panic!("{case}: 429 without Retry-After: {self}"));
        let secs: u64 = value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{case}: Retry-After is not whole seconds: {value:?}"));
        assert!(secs >= 1, "{case}: Retry-After {secs} is below 1");
        secs
    }

    /// Asserts a success `status` with an empty body.
    #[track_caller]
    pub fn assert_empty(&self, status: u16, case: &str) {
        self.assert_status(status, case);
        assert!(
            self.body.is_empty(),
            "{case}: expected an empty body, got {self}"
        );
    }

    /// The string field `field` of a JSON object body; panics naming it when absent.
    #[track_caller]
    pub fn field(&self, field: &str) -> String {
        match self.json().get(field) {
            Some(Value::String(s)) => s.clone(),
            _ => panic!("no string field {field:?} in {self}"),
        }
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut body = self.text();
        if body.len() > 300 {
            let mut end = 300;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body.truncate(end);
            body.push('…');
        }
        write!(f, "{} {body}", self.status)?;
        if let Some(retry) = self.header("retry-after") {
            write!(f, " (Retry-After: {retry})")?;
        }
        Ok(())
    }
}

/// Sends `head` (request line and headers, without the blank line) and then `body` over a
/// fresh connection exactly as given, and reads the answer. A `Connection: close` header is
/// added so the answer ends with the connection. The body is written in the background, so
/// a server that answers before reading it all (an oversized body) is still heard.
pub async fn raw_exchange(addr: SocketAddr, head: &str, body: Vec<u8>) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!("{head}\r\nConnection: close\r\n\r\n");
    let writing = tokio::spawn(async move {
        // The server may close early (that is allowed after answering an oversized
        // body): a failed write is then expected, and the answer is what counts.
        if writer.write_all(head.as_bytes()).await.is_ok() {
            for piece in body.chunks(16 * 1024) {
                if writer.write_all(piece).await.is_err() {
                    break;
                }
            }
            let _ = writer.flush().await;
        }
        writer
    });
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let read = tokio::time::timeout_at(deadline, reader.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                received.extend_from_slice(&buf[..n]);
                if complete_response(&received).is_some() {
                    break;
                }
            }
            Err(_) => panic!(
                "no complete answer within 10 s; got {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
    writing.abort();
    complete_response(&received).unwrap_or_else(|| {
        panic!(
            "incomplete HTTP answer: {:?}",
            String::from_utf8_lossy(&received)
        )
    })
}

/// Parses a whole HTTP/1.1 response, or `None` while more bytes are needed.
fn complete_response(data: &[u8]) -> Option<Reply> {
    let end = data.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&data[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &data[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().ok()?;
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else {
        // Neither: the body runs to the end of the connection; the caller stops at EOF.
        rest.to_vec()
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// Decodes a complete chunked body, or `None` while more bytes are needed.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// `body` in chunked transfer coding, in pieces of `piece` bytes.
pub fn chunked(body: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / piece * 8 + 8);
    for c in body.chunks(piece.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked_answers() {
        let r =
            complete_response(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\nhi").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"hi"[..]));
        let body = chunked(b"hello world", 4);
        let mut data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        data.extend_from_slice(&body);
        let r = complete_response(&data).unwrap();
        assert_eq!(r.body, b"hello world");
        assert!(complete_response(&data[..data.len() - 3]).is_none());
    }
}
