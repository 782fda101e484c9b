//! Building the console's HTML: every value from outside (user ids, device ids, message text,
//! reasons) goes through [`esc`], attributes are always double-quoted, query values are
//! percent-encoded with [`q`]. The pages have no script and load nothing: their style is inline.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` escaped for HTML text and double-quoted attribute values (`& < > " ' /`).
pub(crate) fn esc(text: &str) -> Cow<'_, str> {
    html_escape::encode_safe(text)
}

/// `value` percent-encoded for a query string.
pub(crate) fn q(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A Unix-ms time as `YYYY-MM-DD HH:MM:SS.mmm UTC`.
pub(crate) fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{millis:03} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A duration in ms as seconds with one decimal (`12.3 s`).
pub(crate) fn age(ms: i64) -> String {
    let ms = ms.max(0);
    format!("{}.{} s", ms / 1000, ms % 1000 / 100)
}

/// An optional value, or an em dash.
pub(crate) fn opt(value: Option<&str>) -> Cow<'_, str> {
    value.map_or(Cow::Borrowed("—"), esc)
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#24292f;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}\
header a{color:#fff;text-decoration:none}header form{margin-left:auto}\
main{padding:1em 1.2em;max-width:75em}h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}\
table{border-collapse:collapse;background:#fff;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#eef1f4}form.inline{display:inline}label{margin-right:.8em}input,select,textarea{font:inherit}\
.note{color:#57606a}.bad{color:#b42318}.ok{color:#1a7f37}\
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:.8em 1em;width:22em}\
.card h3{margin:0 0 .4em;font-size:.9em;color:#57606a}.card .title{font-weight:600}.card .body{white-space:pre-wrap;word-break:break-word}";

/// A whole page: the header (with a logout form when `csrf` is given) and `body`.
pub(crate) fn page(title: &str, csrf: Option<&str>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} · pushway console</title><style>{STYLE}</style></head><body><header>\
         <strong>pushway console</strong>",
        esc(title)
    );
    if let Some(csrf) = csrf {
        let _ = write!(
            out,
            "<a href=\"/console\">Overview</a><a href=\"/console/dead-letters\">Dead letters</a>\
             <a href=\"/console/test-push\">Test push</a>\
             <form method=\"post\" action=\"/console/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" id=\"logout\">Log out</button></form>",
            esc(csrf)
        );
    }
    let _ = write!(
        out,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped() {
        assert_eq!(
            esc("<script>alert(\"x\")</script>&'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2F;script&gt;&amp;&#x27;"
        );
        assert_eq!(q("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn times_are_utc_civil_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(time(1_796_571_263_123), "2026-12-06 15:34:23.123 UTC");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00.000 UTC");
        assert_eq!(age(12_345), "12.3 s");
        assert_eq!(age(-5), "0.0 s");
    }
}
