//! How a judged connection reads in `harness check`'s text verdict: its ends, ALPN, streams (bytes,
//! FIN, resets) and close.

use std::io::Write;

use crate::{ConnectionView, Side};

fn addr(a: Option<std::net::SocketAddr>) -> String {
    a.map_or_else(|| "?".to_owned(), |a| a.to_string())
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Client => "client",
        Side::Server => "server",
    }
}

impl ConnectionView {
    /// Its lines of the text verdict.
    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let c = self;
        writeln!(
            out,
            "connection {}: {} (client) -> {} (server), from packet #{}{}",
            c.index,
            addr(c.client),
            addr(c.server),
            c.first_packet,
            match (c.judged, c.refused) {
                (_, true) => ", refused",
                (true, _) => "",
                (false, _) => ", not judged",
            }
        )?;
        if let Some(alpn) = &c.alpn {
            writeln!(out, "  alpn: {alpn}")?;
        }
        for s in &c.streams {
            let first = |b: &[u8]| {
                b.first()
                    .map_or_else(|| "-".to_owned(), |d| format!("{d:#04x}"))
            };
            writeln!(
                out,
                "  stream {}: client {} B (first {}){}, server {} B{}{}{}",
                s.id,
                s.client_bytes.len(),
                first(&s.client_bytes),
                if s.client_fin { " FIN" } else { "" },
                s.server_bytes.len(),
                if s.server_fin { " FIN" } else { "" },
                s.resets
                    .iter()
                    .map(|r| format!(", RESET_STREAM {} by the {}", r.code, side(r.by)))
                    .collect::<String>(),
                s.stop_sendings
                    .iter()
                    .map(|r| format!(", STOP_SENDING {} by the {}", r.code, side(r.by)))
                    .collect::<String>(),
            )?;
        }
        match &c.close {
            Some(close) => {
                let what = if close.application {
                    handshake_proton_wire::CloseCode::from_code(close.code).map_or_else(
                        || format!("application code {} (not a Proton code)", close.code),
                        |c| format!("application code {c}"),
                    )
                } else {
                    format!("transport error {:#x}", close.code)
                };
                writeln!(
                    out,
                    "  close: {what} {:?} by the {} at #{} ({})",
                    close.reason,
                    side(close.by),
                    close.packet,
                    handshake_check::seconds(close.time_ns)
                )
            }
            None => writeln!(out, "  close: none seen"),
        }
    }
}

impl crate::Report {
    /// The text verdict's lines before the violations: what was read, as which profile, with
    /// which timers, then each connection.
    pub fn write_text_head(
        &self,
        out: &mut dyn Write,
        file: &std::path::Path,
        profile: &str,
        options: &crate::Options,
    ) -> std::io::Result<()> {
        let p = &options.profile;
        let timer =
            |ms: Option<u64>| ms.map_or_else(|| "unknown".to_owned(), |v| format!("{v} ms"));
        writeln!(
            out,
            "{}: {} datagrams, {} connection{}, judged as {profile}",
            file.display(),
            self.datagrams,
            self.connections.len(),
            if self.connections.len() == 1 { "" } else { "s" },
        )?;
        writeln!(
            out,
            "timers: accept {}, op {}, discriminator {}, startup {}; tolerance {} ms",
            timer(p.accept_ms),
            timer(p.op_ms),
            timer(p.disc_ms),
            timer(p.startup_ms),
            options.tolerance.ms()
        )?;
        self.connections.iter().try_for_each(|c| c.write_text(out))
    }
}
