//! Wire-layer speed: classification + parse of a realistic datagram mix (datagrams/s), fill-pattern
//! verification (bytes/s), and a plain copy of the same bytes as the physical bound.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use handshake_mediastream_wire::{
    fill_pattern, pattern_slice, verify_pattern, ConnectionId, ControlRepr, DataRepr, Datagram,
    FragmentPlan, Mode,
};

/// One 3-way stream's worth of traffic at 1 Mbit/s × 100 fps × M = 1400 (1250-byte frames) plus the
/// handshake, a legacy START and a few malformed datagrams: what a responder or checker sees.
fn realistic_mix() -> Vec<Vec<u8>> {
    let id = ConnectionId::from_uuid_bytes([7; 16]);
    let mut mix = vec![
        Datagram::Control(ControlRepr::syn(ConnectionId::ZERO)).to_vec(),
        Datagram::Control(ControlRepr::syn_ack_accept(id)).to_vec(),
        Datagram::Control(ControlRepr::ack(id)).to_vec(),
        Datagram::Start.to_vec(),
        Datagram::ConnectionId(id).to_vec(),
        vec![0x02, 0x00, 0x01],
        b"START\0".to_vec(),
    ];
    for (frame_size, frames) in [(1250u64, 60u64), (2801, 20)] {
        let plan = FragmentPlan::new(frame_size, 1400).expect("valid plan");
        for seq in 1..=frames {
            for d in plan.iter() {
                let payload = pattern_slice(0, (d.len - 26) as usize);
                mix.push(
                    Datagram::Data(DataRepr {
                        seq,
                        qpc: seq * 10_000,
                        qpf: 10_000_000,
                        payload,
                    })
                    .to_vec(),
                );
            }
        }
    }
    mix
}

fn parse_mix(c: &mut Criterion) {
    let mix = realistic_mix();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(mix.len() as u64));
    for mode in Mode::ALL {
        group.bench_function(BenchmarkId::new("realistic_mix", mode.name()), |b| {
            b.iter(|| {
                let mut ok = 0usize;
                for datagram in &mix {
                    ok += usize::from(Datagram::parse(black_box(datagram), mode).is_ok());
                }
                ok
            })
        });
    }
    group.finish();
}

fn verify_vs_memcpy(c: &mut Criterion) {
    for payload_len in [1374usize, 65_000] {
        let count = (4 << 20) / payload_len;
        let mut payloads = vec![vec![0u8; payload_len]; count];
        for p in &mut payloads {
            fill_pattern(p, 0);
        }
        let bytes = (payload_len * count) as u64;
        let mut group = c.benchmark_group(format!("payload_{payload_len}"));
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function("verify_pattern", |b| {
            b.iter(|| {
                payloads
                    .iter()
                    .filter(|p| verify_pattern(black_box(p)).is_ok())
                    .count()
            })
        });
        let mut sink = vec![0u8; payload_len];
        group.bench_function("memcpy_bound", |b| {
            b.iter(|| {
                for p in &payloads {
                    sink.copy_from_slice(black_box(p));
                    black_box(&sink);
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, parse_mix, verify_vs_memcpy);
criterion_main!(benches);
