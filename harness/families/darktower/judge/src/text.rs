//! How a judged session reads in `harness check`'s text verdict: its ends, role, ALPN or path,
//! messages, media streams, datagrams and resets.

use std::io::Write;
use std::net::SocketAddr;

use crate::{Options, Report, SessionView};

impl SessionView {
    /// Its lines of the text verdict.
    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let s = self;
        let addr = |a: Option<SocketAddr>| a.map_or_else(|| "?".to_owned(), |a| a.to_string());
        writeln!(
            out,
            "session {}: {} -> {} {:?}{}{}{}",
            s.connection,
            addr(s.client),
            addr(s.server),
            s.role,
            s.alpn
                .as_ref()
                .map(|a| format!(", alpn {a}"))
                .unwrap_or_default(),
            s.path
                .as_ref()
                .map(|p| format!(", path {p}"))
                .unwrap_or_default(),
            if s.judged { "" } else { ", not judged" }
        )?;
        if let Some(p) = &s.participant {
            writeln!(out, "  participant: {p}")?;
        }
        if !s.client_messages.is_empty() {
            writeln!(out, "  client: {}", s.client_messages.join(", "))?;
        }
        if !s.server_messages.is_empty() {
            writeln!(out, "  server: {}", s.server_messages.join(", "))?;
        }
        for m in &s.media_streams {
            writeln!(
                out,
                "  media stream {} by the {:?}: {} frames, {} B{}{}{}",
                m.stream,
                m.by,
                m.frames,
                m.bytes,
                m.header
                    .as_ref()
                    .map(|h| format!(", {h}"))
                    .unwrap_or_default(),
                if m.fin { ", FIN" } else { "" },
                m.error
                    .as_ref()
                    .map(|e| format!(", malformed: {e}"))
                    .unwrap_or_default()
            )?;
        }
        if s.client_datagrams + s.server_datagrams > 0 {
            writeln!(
                out,
                "  datagrams: {} from the client, {} from the server",
                s.client_datagrams, s.server_datagrams
            )?;
        }
        for (what, list) in [
            ("RESET_STREAM", &s.resets),
            ("STOP_SENDING", &s.stop_sendings),
        ] {
            for c in list {
                writeln!(
                    out,
                    "  {what} on stream {} by the {:?}: wire {:#x}{}",
                    c.stream,
                    c.by,
                    c.wire_code,
                    c.code.map(|c| format!(" = {c:#04x}")).unwrap_or_default()
                )?;
            }
        }
        Ok(())
    }
}

impl Report {
    /// The text verdict's lines before the violations: what was read, as which profile, with
    /// which tolerance, then each session.
    pub fn write_text_head(
        &self,
        out: &mut dyn Write,
        file: &std::path::Path,
        profile: &str,
        options: &Options,
    ) -> std::io::Result<()> {
        writeln!(
            out,
            "{}: {} datagrams, {} session{}, judged as {profile}; tolerance {} ms",
            file.display(),
            self.datagrams,
            self.sessions.len(),
            if self.sessions.len() == 1 { "" } else { "s" },
            options.tolerance.ms()
        )?;
        self.sessions.iter().try_for_each(|s| s.write_text(out))
    }
}
