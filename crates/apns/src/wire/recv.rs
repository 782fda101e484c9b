//! The receiving half of the connection state: frames from the server, checked as RFC 9113
//! asks of a client, and turned into answers, window updates and replies.
//!
//! Whatever a server sends, nothing here panics or grows without bound: frames are at most
//! [`MAX_FRAME`], a header block at most [`MAX_ENCODED_BLOCK`] encoded and [`MAX_HEADER_LIST`]
//! decoded, a body at most [`MAX_BODY`], and no frame is read while [`MAX_QUEUED_OUT`] bytes
//! wait to be written.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::*;

impl State {
    /// Handles the complete frames at the start of `buf`, `unwritten` bytes being still in the
    /// writer's hands; returns how many bytes were used. Stops at a connection error (the
    /// state is then ended, its GOAWAY queued) and while the bytes to write are over
    /// [`MAX_QUEUED_OUT`] (back-pressure: the rest stays in `buf`).
    pub(super) fn read_frames(&mut self, buf: &[u8], unwritten: usize) -> usize {
        let mut used = 0;
        while self.ended.is_none() && self.out.len() + unwritten <= MAX_QUEUED_OUT {
            let rest = &buf[used..];
            if rest.len() < 9 {
                break;
            }
            let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            if len > MAX_FRAME {
                let why = format!("frame of {len} bytes over the 16,384 allowed");
                self.fail(FRAME_SIZE_ERROR, why);
                break;
            }
            if rest.len() < 9 + len {
                break;
            }
            let (kind, flags) = (rest[3], rest[4]);
            let id = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]) & LAST_STREAM_ID;
            used += 9 + len;
            if let Err(ConnError(code, why)) = self.on_frame(kind, flags, id, &rest[9..9 + len]) {
                self.fail(code, format!("protocol error from the server: {why}"));
                break;
            }
        }
        used
    }

    /// Handles one frame from the server.
    fn on_frame(&mut self, kind: u8, flags: u8, id: u32, payload: &[u8]) -> Result<(), ConnError> {
        if let Some(partial) = &self.partial
            && (kind != CONTINUATION || id != partial.id)
        {
            return Err(ConnError(PROTOCOL_ERROR, "header block interrupted".into()));
        }
        match kind {
            DATA => self.on_data(flags, id, payload),
            HEADERS => {
                if id == 0 {
                    return Err(ConnError(PROTOCOL_ERROR, "HEADERS on stream 0".into()));
                }
                if self.idle(id) {
                    return Err(ConnError(
                        PROTOCOL_ERROR,
                        "HEADERS on an idle stream".into(),
                    ));
                }
                let mut fragment = unpad(flags, payload)?;
                if flags & PRIORITY_FLAG != 0 {
                    fragment = fragment
                        .get(5..)
                        .ok_or_else(|| ConnError(FRAME_SIZE_ERROR, "short HEADERS".into()))?;
                }
                self.partial = Some(Partial {
                    id,
                    end_stream: flags & END_STREAM != 0,
                    block: fragment.to_vec(),
                    continuations: 0,
                });
                if flags & END_HEADERS != 0 {
                    self.on_header_block()
                } else {
                    Ok(())
                }
            }
            CONTINUATION => {
                let Some(partial) = &mut self.partial else {
                    return Err(ConnError(
                        PROTOCOL_ERROR,
                        "CONTINUATION without HEADERS".into(),
                    ));
                };
                if flags & END_HEADERS == 0 {
                    partial.continuations += 1;
                    if partial.continuations > MAX_CONTINUATIONS {
                        return Err(ConnError(
                            ENHANCE_YOUR_CALM,
                            "too many CONTINUATION frames".into(),
                        ));
                    }
                }
                if partial.block.len() + payload.len() > MAX_ENCODED_BLOCK {
                    return Err(ConnError(
                        COMPRESSION_ERROR,
                        "response header block too large to decode".into(),
                    ));
                }
                partial.block.extend_from_slice(payload);
                if flags & END_HEADERS != 0 {
                    self.on_header_block()
                } else {
                    Ok(())
                }
            }
            RST_STREAM => {
                if id == 0 {
                    return Err(ConnError(PROTOCOL_ERROR, "RST_STREAM on stream 0".into()));
                }
                if payload.len() != 4 {
                    return Err(ConnError(
                        FRAME_SIZE_ERROR,
                        "RST_STREAM of wrong size".into(),
                    ));
                }
                if self.idle(id) {
                    return Err(ConnError(
                        PROTOCOL_ERROR,
                        "RST_STREAM on an idle stream".into(),
                    ));
                }
                let code = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                let error = if code == REFUSED_STREAM {
                    StreamError::Refused("REFUSED_STREAM".into())
                } else {
                    StreamError::Reset(code)
                };
                self.finish(id, Err(error));
                Ok(())
            }
            SETTINGS => self.on_settings(flags, id, payload),
            PING => {
                if id != 0 {
                    return Err(ConnError(PROTOCOL_ERROR, "PING on a stream".into()));
                }
                if payload.len() != 8 {
                    return Err(ConnError(FRAME_SIZE_ERROR, "PING of wrong size".into()));
                }
                if flags & ACK != 0 {
                    if self.ping.as_ref().is_some_and(|p| p[..] == *payload) {
                        self.ping = None;
                    }
                } else {
                    frame_head(&mut self.out, 8, PING, ACK, 0);
                    self.out.extend_from_slice(payload);
                }
                Ok(())
            }
            GOAWAY => self.on_goaway(id, payload),
            WINDOW_UPDATE => self.on_window_update(id, payload),
            PUSH_PROMISE => Err(ConnError(
                PROTOCOL_ERROR,
                "PUSH_PROMISE with push disabled".into(),
            )),
            // PRIORITY (deprecated) and unknown frame types are ignored (RFC 9113 §5.5).
            _ => Ok(()),
        }
    }

    fn on_goaway(&mut self, id: u32, payload: &[u8]) -> Result<(), ConnError> {
        if id != 0 {
            return Err(ConnError(PROTOCOL_ERROR, "GOAWAY on a stream".into()));
        }
        if payload.len() < 8 {
            return Err(ConnError(FRAME_SIZE_ERROR, "short GOAWAY".into()));
        }
        let last =
            u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & LAST_STREAM_ID;
        let code = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
        let detail = String::from_utf8_lossy(&payload[8..]);
        tracing::debug!(last_stream = last, code, detail = %detail, "APNs sent GOAWAY");
        let why = if detail.is_empty() {
            format!("GOAWAY (error code {code:#x})")
        } else {
            format!("GOAWAY (error code {code:#x}): {detail}")
        };
        let last = self.goaway.map_or(last, |g| g.min(last));
        self.goaway = Some(last);
        // The streams above `last` were not processed: their frames not yet written must not
        // be (they are reported not processed; the server would ignore them anyway).
        if self.last_opened > last {
            retain_frames(&mut self.out, |stream| stream <= last);
        }
        let cut: Vec<u32> = self.streams.keys().copied().filter(|&s| s > last).collect();
        for s in cut {
            self.finish(s, Err(StreamError::Refused(why.clone())));
        }
        for w in self.waiting.drain(..) {
            let _ = w.reply.send(Err(StreamError::NotSent(why.clone())));
        }
        Ok(())
    }

    fn on_window_update(&mut self, id: u32, payload: &[u8]) -> Result<(), ConnError> {
        if payload.len() != 4 {
            return Err(ConnError(
                FRAME_SIZE_ERROR,
                "WINDOW_UPDATE of wrong size".into(),
            ));
        }
        let inc = i64::from(
            u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & LAST_STREAM_ID,
        );
        if id == 0 {
            if inc == 0 {
                return Err(ConnError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0".into()));
            }
            self.conn_window += inc;
            if self.conn_window > MAX_WINDOW {
                return Err(ConnError(
                    FLOW_CONTROL_ERROR,
                    "connection window overflow".into(),
                ));
            }
        } else if self.idle(id) {
            return Err(ConnError(
                PROTOCOL_ERROR,
                "WINDOW_UPDATE on an idle stream".into(),
            ));
        } else if let Some(stream) = self.streams.get_mut(&id) {
            stream.window += inc;
            if inc == 0 {
                self.reset_stream(
                    id,
                    PROTOCOL_ERROR,
                    StreamError::Malformed("WINDOW_UPDATE of 0"),
                )?;
            } else if stream.window > MAX_WINDOW {
                self.reset_stream(
                    id,
                    FLOW_CONTROL_ERROR,
                    StreamError::Malformed("stream window overflow"),
                )?;
            }
        }
        self.send_blocked();
        Ok(())
    }

    fn on_data(&mut self, flags: u8, id: u32, payload: &[u8]) -> Result<(), ConnError> {
        if id == 0 {
            return Err(ConnError(PROTOCOL_ERROR, "DATA on stream 0".into()));
        }
        if self.idle(id) {
            return Err(ConnError(PROTOCOL_ERROR, "DATA on an idle stream".into()));
        }
        // Flow control counts the whole payload, padding included.
        self.unreturned += payload.len() as u32;
        if self.unreturned >= RECV_WINDOW / 2 {
            window_update(&mut self.out, 0, self.unreturned);
            self.unreturned = 0;
        }
        let data = unpad(flags, payload)?;
        if let Some(stream) = self.streams.get_mut(&id) {
            if stream.head.is_none() {
                return self.reset_stream(
                    id,
                    PROTOCOL_ERROR,
                    StreamError::Malformed("DATA before HEADERS"),
                );
            }
            let room = MAX_BODY.saturating_sub(stream.body.len());
            stream.body.extend_from_slice(&data[..data.len().min(room)]);
            if flags & END_STREAM != 0 {
                self.complete(id);
            }
        }
        Ok(())
    }

    fn on_header_block(&mut self) -> Result<(), ConnError> {
        let Some(Partial {
            id,
            end_stream,
            block,
            ..
        }) = self.partial.take()
        else {
            return Ok(());
        };
        // Decoded whatever becomes of the stream: the dynamic table depends on every block.
        let head = self
            .decoder
            .decode(&block, MAX_HEADER_LIST)
            .map_err(|e| ConnError(COMPRESSION_ERROR, e.to_string()))?;
        let Some(stream) = self.streams.get_mut(&id) else {
            // A stream we gave up (reset) or that ended: the block only fed the decoder.
            return Ok(());
        };
        if head.over_limit {
            // Over what we advertised: this answer is dropped, not the connection (the
            // server processed the other streams). REFUSED_STREAM as `h2` sends it.
            return self.reset_stream(
                id,
                REFUSED_STREAM,
                StreamError::Malformed("response header list over SETTINGS_MAX_HEADER_LIST_SIZE"),
            );
        }
        match (&stream.head, head.status) {
            // 101 Switching Protocols does not exist in HTTP/2 (RFC 9113 §8.6).
            (None, Some(StatusCode::SWITCHING_PROTOCOLS)) => {
                return self.reset_stream(
                    id,
                    PROTOCOL_ERROR,
                    StreamError::Malformed("101 in HTTP/2"),
                );
            }
            // An informational answer (1xx): the real one follows.
            (None, Some(s)) if s.is_informational() => {
                if end_stream {
                    return self.reset_stream(
                        id,
                        PROTOCOL_ERROR,
                        StreamError::Malformed("1xx with END_STREAM"),
                    );
                }
                return Ok(());
            }
            (None, Some(_)) => stream.head = Some(head),
            (None, None) => {
                return self.reset_stream(
                    id,
                    PROTOCOL_ERROR,
                    StreamError::Malformed("response without :status"),
                );
            }
            // Trailers (nothing APNs sends; ignored) end the stream (RFC 9113 §8.1).
            (Some(_), _) if !end_stream => {
                return self.reset_stream(
                    id,
                    PROTOCOL_ERROR,
                    StreamError::Malformed("trailers without END_STREAM"),
                );
            }
            (Some(_), _) => {}
        }
        if end_stream {
            self.complete(id);
        }
        Ok(())
    }

    /// The server ended the stream: hand over its answer.
    fn complete(&mut self, id: u32) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        let Some(head) = stream.head.take() else {
            return;
        };
        let body = std::mem::take(&mut stream.body);
        let unsent = !stream.unsent.is_empty();
        let status = head.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut headers = HeaderMap::new();
        if status != StatusCode::OK || !head.fields.is_empty() {
            // Bounded by MAX_HEADER_LIST (at most 2,048 fields of 32 bytes), but a HeaderMap
            // panics past 32,768 entries: never let the server's input reach a panic.
            let mut filled = headers.try_reserve(head.fields.len() + 1).is_ok();
            for (name, value) in head.fields {
                filled &= headers.try_append(name, value).is_ok();
            }
            if status != StatusCode::OK
                && let Some(id) = &head.apns_id
            {
                filled &= headers
                    .try_append(crate::request::APNS_ID.clone(), id.clone())
                    .is_ok();
            }
            if !filled {
                let _ = self.reset_stream(
                    id,
                    CANCEL,
                    StreamError::Malformed("too many response header fields"),
                );
                return;
            }
        }
        let answer = Answer {
            status,
            apns_id: head.apns_id,
            headers,
            body: Bytes::from(body),
        };
        // The body may still be going out (a server may answer early): stop sending it.
        if unsent {
            rst_stream(&mut self.out, id, NO_ERROR);
        }
        self.finish(id, Ok(answer));
    }

    fn on_settings(&mut self, flags: u8, id: u32, payload: &[u8]) -> Result<(), ConnError> {
        if id != 0 {
            return Err(ConnError(PROTOCOL_ERROR, "SETTINGS on a stream".into()));
        }
        if flags & ACK != 0 {
            if !payload.is_empty() {
                return Err(ConnError(
                    FRAME_SIZE_ERROR,
                    "SETTINGS ACK with a payload".into(),
                ));
            }
            return Ok(());
        }
        if !payload.len().is_multiple_of(6) {
            return Err(ConnError(FRAME_SIZE_ERROR, "SETTINGS of wrong size".into()));
        }
        if !self.settings_seen {
            // No SETTINGS_MAX_CONCURRENT_STREAMS in the first SETTINGS means no limit.
            self.settings_seen = true;
            self.max_streams = usize::MAX;
        }
        for entry in payload.chunks_exact(6) {
            let key = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            match key {
                // A server may not push, nor say it would (RFC 9113 §6.5.2).
                SETTINGS_ENABLE_PUSH if value != 0 => {
                    return Err(ConnError(
                        PROTOCOL_ERROR,
                        "SETTINGS_ENABLE_PUSH from a server".into(),
                    ));
                }
                SETTINGS_MAX_CONCURRENT_STREAMS => self.max_streams = value as usize,
                SETTINGS_INITIAL_WINDOW_SIZE => {
                    if i64::from(value) > MAX_WINDOW {
                        return Err(ConnError(
                            FLOW_CONTROL_ERROR,
                            "initial window too large".into(),
                        ));
                    }
                    let delta = i64::from(value) - self.initial_window;
                    // The change applies to open streams too; none may pass 2^31-1 (§6.9.2).
                    if self.streams.values().any(|s| s.window + delta > MAX_WINDOW) {
                        return Err(ConnError(
                            FLOW_CONTROL_ERROR,
                            "initial window change overflows a stream window".into(),
                        ));
                    }
                    self.initial_window = i64::from(value);
                    for stream in self.streams.values_mut() {
                        stream.window += delta;
                    }
                }
                SETTINGS_MAX_FRAME_SIZE => {
                    if !(16_384..=16_777_215).contains(&value) {
                        return Err(ConnError(
                            PROTOCOL_ERROR,
                            "bad SETTINGS_MAX_FRAME_SIZE".into(),
                        ));
                    }
                    self.max_frame = value as usize;
                }
                // HEADER_TABLE_SIZE: our requests never use the dynamic table. The rest do not
                // concern a client that sends small requests.
                _ => {}
            }
        }
        frame_head(&mut self.out, 0, SETTINGS, ACK, 0);
        self.send_blocked();
        self.open_waiting();
        Ok(())
    }
}

/// The payload of a frame that may be PADDED, without its padding.
fn unpad(flags: u8, payload: &[u8]) -> Result<&[u8], ConnError> {
    if flags & PADDED == 0 {
        return Ok(payload);
    }
    let pad = usize::from(
        *payload
            .first()
            .ok_or_else(|| ConnError(PROTOCOL_ERROR, "empty padded frame".into()))?,
    );
    if pad >= payload.len() {
        return Err(ConnError(
            PROTOCOL_ERROR,
            "padding longer than the frame".into(),
        ));
    }
    Ok(&payload[1..payload.len() - pad])
}

/// Keeps the frames of `out` (whole frames, as queued, after the preface if it is still
/// there) that are on stream 0 or on a stream `keep` accepts.
pub(super) fn retain_frames(out: &mut Vec<u8>, keep: impl Fn(u32) -> bool) {
    let start = if out.starts_with(PREFACE) {
        PREFACE.len()
    } else {
        0
    };
    let (mut read, mut write) = (start, start);
    while read + 9 <= out.len() {
        let h = &out[read..read + 9];
        let len = 9 + (usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]));
        let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
        let end = (read + len).min(out.len());
        if stream == 0 || keep(stream) {
            out.copy_within(read..end, write);
            write += end - read;
        }
        read = end;
    }
    out.truncate(write);
}
