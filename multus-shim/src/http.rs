//! Just enough HTTP/1.1 over a unix socket for the daemon's API: one request
//! per connection (`Connection: close`, as the daemon disables keep-alives),
//! a `Content-Length`, chunked or read-to-EOF body in the answer.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::Error;

/// The host name in the request; the daemon ignores it (upstream's shim uses
/// `http://dummy/...`).
const HOST: &str = "dummy";
/// Answers larger than this are refused rather than buffered.
const MAX_BODY: usize = 64 << 20;
/// Longest status or header line accepted.
const MAX_LINE: usize = 64 << 10;

/// A daemon's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, decoded from chunked transfer encoding if it was.
    pub body: Vec<u8>,
}

/// Sends one request to the server at `socket` and reads its answer. With a
/// `timeout`, connecting aside, each read and write gives up after it.
///
/// # Errors
/// [`Error::Connect`] when the socket cannot be reached, [`Error::Http`] when
/// the exchange fails or the answer is not HTTP/1.x.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Option<Duration>,
) -> Result<Response, Error> {
    let mut stream = UnixStream::connect(socket).map_err(|source| Error::Connect {
        socket: socket.to_path_buf(),
        source,
    })?;
    let http = |what: &str| {
        let what = what.to_owned();
        move |e: io::Error| Error::Http(format!("{what}: {e}"))
    };
    stream
        .set_read_timeout(timeout)
        .and_then(|()| stream.set_write_timeout(timeout))
        .map_err(http("cannot set the socket timeout"))?;

    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: multus-shim\r\nConnection: close\r\n"
    );
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut message = head.into_bytes();
    message.extend_from_slice(body.unwrap_or_default());
    stream
        .write_all(&message)
        .and_then(|()| stream.flush())
        .map_err(http("failed to send the request"))?;

    read_response(BufReader::new(stream)).map_err(|e| match e {
        Error::Http(m) => Error::Http(format!("failed to read the answer: {m}")),
        other => other,
    })
}

/// Parses an HTTP/1.x answer.
fn read_response(mut r: impl BufRead) -> Result<Response, Error> {
    let status_line = read_line(&mut r)?;
    // "HTTP/1.1 200 OK": version, code, optional reason.
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(Error::Http(format!(
            "not an HTTP/1.x status line: {status_line:?}"
        )));
    }
    let status: u16 = code
        .parse()
        .ok()
        .filter(|c| (100..1000).contains(c))
        .ok_or_else(|| Error::Http(format!("bad status code in {status_line:?}")))?;

    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        let line = read_line(&mut r)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Error::Http(format!("malformed header line {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| Error::Http(format!("bad Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        }
    }

    // 1xx, 204 and 304 answers carry no body.
    let body = if status < 200 || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        read_chunked(&mut r)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(Error::Http(format!("answer of {n} bytes is too large")));
        }
        let mut body = vec![0; n];
        r.read_exact(&mut body)
            .map_err(|e| Error::Http(format!("body shorter than its Content-Length: {e}")))?;
        body
    } else {
        let mut body = Vec::new();
        r.take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| Error::Http(e.to_string()))?;
        if body.len() > MAX_BODY {
            return Err(Error::Http("answer is too large".into()));
        }
        body
    };
    Ok(Response { status, body })
}

fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| Error::Http(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line (or EOF from a sloppy server).
            while !read_line(r).unwrap_or_default().is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(Error::Http("answer is too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])
            .map_err(|e| Error::Http(format!("truncated chunk: {e}")))?;
        if !read_line(r)?.is_empty() {
            return Err(Error::Http("chunk not followed by CRLF".into()));
        }
    }
}

/// One line without its CRLF (or LF). EOF before any byte is an error.
fn read_line(r: &mut impl BufRead) -> Result<String, Error> {
    let mut buf = Vec::new();
    let n = r
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .map_err(|e| Error::Http(e.to_string()))?;
    if n == 0 {
        return Err(Error::Http("connection closed before the answer".into()));
    }
    if buf.last() != Some(&b'\n') {
        return Err(Error::Http("line too long or truncated".into()));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Response, Error> {
        read_response(raw.as_bytes())
    }

    #[test]
    fn content_length_body() {
        let r = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
    }

    #[test]
    fn chunked_body() {
        let r = parse(
            "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n2\r\nef\r\n0\r\nX-T: 1\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"abcdef"[..]));
    }

    #[test]
    fn body_to_eof_and_bare_lf() {
        let r = parse("HTTP/1.0 500 Internal\nX: y\n\nboom\n").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (500, &b"boom\n"[..]));
        let r = parse("HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert!(r.body.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for raw in [
            "",
            "SSH-2.0\r\n\r\n",
            "HTTP/1.1 abc\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        ] {
            assert!(parse(raw).is_err(), "{raw:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = read_response(raw.as_slice());
        }

        #[test]
        fn any_chunked_body_round_trips(chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 1..64), 0..8)) {
            let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for c in &chunks {
                raw.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                raw.extend_from_slice(c);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
            let r = read_response(raw.as_slice()).unwrap();
            proptest::prop_assert_eq!(r.body, chunks.concat());
        }
    }
}
