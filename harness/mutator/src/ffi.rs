//! The C ABI of `libhandshake_mutator.so` (declared in `include/handshake_mutator.h`): libFuzzer's
//! custom mutator and cross-over, AFL++'s custom mutator, and `hh_decode`.
//!
//! The only module with `unsafe`: turning the callers' pointers into slices. Every export runs its
//! body under [`std::panic::catch_unwind`], so no panic unwinds into C; a caught panic is reported
//! on stderr and the export returns its harmless value (the input unchanged, nothing, an error
//! code).
//!
//! The fuzzers' hooks take no format argument: the format is `HANDSHAKE_FORMAT`, read once. Unset or
//! unknown, the first hook that needs it prints which ids exist and exits with status 2: a
//! campaign that mutated with no format, or the wrong one, would run for hours finding nothing.

use std::ffi::{c_char, c_uint, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{format, format_from_env, WireFormat};

/// `hh_decode`: a null pointer where one is needed.
pub const HH_ERR_NULL: i64 = -1;
/// `hh_decode`: the format id is not one of the formats (or not UTF-8).
pub const HH_ERR_UNKNOWN_FORMAT: i64 = -2;
/// `hh_decode`: the decoder panicked (a bug in this library; reported on stderr).
pub const HH_ERR_PANIC: i64 = -3;
/// `hh_decode`: `out_json` is too small. The return value is `HH_ERR_TOO_SMALL - needed`, where
/// `needed` is the capacity (terminating NUL included) that would do: every value at or below
/// `HH_ERR_TOO_SMALL` means "too small", and `HH_ERR_TOO_SMALL - ret` is the size to allocate.
pub const HH_ERR_TOO_SMALL: i64 = -16;

/// The exit status of a campaign started without a usable `HANDSHAKE_FORMAT`.
const MISCONFIGURED_EXIT: i32 = 2;

/// The format the fuzzers' hooks mutate; prints why there is none and exits when there is none.
fn configured_format() -> &'static WireFormat {
    match format_from_env() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("handshake-mutator: {e}");
            std::process::exit(MISCONFIGURED_EXIT);
        }
    }
}

/// Runs `body`, turning a panic into `on_panic` after a line on stderr naming `export`.
fn guarded<T>(export: &str, on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        eprintln!(
            "handshake-mutator: {export} panicked (a bug in the mutator library); carrying on"
        );
        on_panic
    })
}

/// The bytes at `data`, or none when `data` is null or `len` is zero.
///
/// # Safety
/// Unless null, `data` must point to `len` readable bytes that stay unchanged while the slice lives.
unsafe fn input<'a>(data: *const u8, len: usize) -> &'a [u8] {
    if data.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: non-null, and the caller guarantees `len` readable bytes at `data`.
    unsafe { std::slice::from_raw_parts(data, len) }
}

/// The writable bytes at `data`, or none when `data` is null or `len` is zero.
///
/// # Safety
/// Unless null, `data` must point to `len` writable bytes no other reference aliases while the slice
/// lives.
unsafe fn output<'a>(data: *mut u8, len: usize) -> &'a mut [u8] {
    if data.is_null() || len == 0 {
        return &mut [];
    }
    // SAFETY: non-null, and the caller guarantees `len` writable, unaliased bytes at `data`.
    unsafe { std::slice::from_raw_parts_mut(data, len) }
}

/// libFuzzer's custom mutator: mutates `data[..size]` in place (the buffer holds `max_size` bytes)
/// with the `HANDSHAKE_FORMAT` format's structure-aware mutation; returns the new size (at most
/// `max_size`). The same input and seed give the same output.
///
/// # Safety
/// `data` must point to `max_size` writable bytes (libFuzzer's buffer), the first `size` of them the
/// input.
#[no_mangle]
pub unsafe extern "C" fn LLVMFuzzerCustomMutator(
    data: *mut u8,
    size: usize,
    max_size: usize,
    seed: c_uint,
) -> usize {
    guarded("LLVMFuzzerCustomMutator", size.min(max_size), || {
        let format = configured_format();
        // SAFETY: libFuzzer hands over its `max_size`-byte buffer, used by nothing else during the call.
        let buf = unsafe { output(data, max_size) };
        crate::mutate_in_place(format, buf, size, max_size, u64::from(seed))
    })
}

/// libFuzzer's custom cross-over: writes a cross-over of `data1[..size1]` and `data2[..size2]` into
/// `out` (`max_out_size` bytes) and returns its length.
///
/// # Safety
/// `data1`/`data2` must point to `size1`/`size2` readable bytes and `out` to `max_out_size` writable
/// bytes overlapping neither.
#[no_mangle]
pub unsafe extern "C" fn LLVMFuzzerCustomCrossOver(
    data1: *const u8,
    size1: usize,
    data2: *const u8,
    size2: usize,
    out: *mut u8,
    max_out_size: usize,
    seed: c_uint,
) -> usize {
    guarded("LLVMFuzzerCustomCrossOver", 0, || {
        let format = configured_format();
        // SAFETY: libFuzzer passes two inputs it keeps unchanged during the call.
        let (a, b) = unsafe { (input(data1, size1), input(data2, size2)) };
        // SAFETY: libFuzzer's output buffer of `max_out_size` bytes, separate from both inputs.
        let out = unsafe { output(out, max_out_size) };
        crate::cross_over_into(format, a, b, out, u64::from(seed))
    })
}

/// AFL++'s per-instance state: the format, the seed it was started with, a call counter (each call
/// mutates with a seed of its own) and the buffer the mutation is handed back in (AFL++ reads it
/// until the next call).
pub struct AflState {
    format: &'static WireFormat,
    seed: u64,
    calls: u64,
    out: Vec<u8>,
}

impl AflState {
    /// The next call's mutation seed: the start seed in the high half, the call count below.
    fn next_seed(&mut self) -> u64 {
        self.calls = self.calls.wrapping_add(1);
        (self.seed << 32) ^ self.calls
    }
}

/// AFL++: starts the custom mutator for `HANDSHAKE_FORMAT` (exits with a message when it names no
/// format); the state is freed by `afl_custom_deinit`.
#[no_mangle]
pub extern "C" fn afl_custom_init(_afl: *mut c_void, seed: c_uint) -> *mut c_void {
    guarded("afl_custom_init", std::ptr::null_mut(), || {
        let state = AflState {
            format: configured_format(),
            seed: u64::from(seed),
            calls: 0,
            out: Vec::new(),
        };
        Box::into_raw(Box::new(state)).cast::<c_void>()
    })
}

/// AFL++: one mutation of `buf[..buf_size]` (one in four a cross-over with `add_buf` when AFL++
/// gives one), at most `max_size` bytes; `*out_buf` points into the state's buffer, valid until the
/// next call or `afl_custom_deinit`. Returns its length (0 with a null state or `out_buf`).
///
/// # Safety
/// `data` must be what `afl_custom_init` returned and not yet deinitialised; `buf`/`add_buf` must
/// point to `buf_size`/`add_buf_size` readable bytes (or be null); `out_buf` must be writable.
#[no_mangle]
pub unsafe extern "C" fn afl_custom_fuzz(
    data: *mut c_void,
    buf: *mut u8,
    buf_size: usize,
    out_buf: *mut *mut u8,
    add_buf: *mut u8,
    add_buf_size: usize,
    max_size: usize,
) -> usize {
    guarded("afl_custom_fuzz", 0, || {
        if data.is_null() || out_buf.is_null() {
            return 0;
        }
        // SAFETY: `data` is the live box `afl_custom_init` made; AFL++ calls one hook at a time.
        let state = unsafe { &mut *data.cast::<AflState>() };
        // SAFETY: AFL++'s current test case and the splice partner, unchanged during the call.
        let (input, other) = unsafe { (input(buf, buf_size), input(add_buf, add_buf_size)) };
        let seed = state.next_seed();
        state.out = if !other.is_empty() && state.calls % 4 == 0 {
            handshake_formats::cross_over(state.format, input, other, max_size, seed)
        } else {
            handshake_formats::mutate(state.format, input, max_size, seed)
        };
        // SAFETY: `out_buf` is AFL++'s writable pointer slot, checked non-null above.
        unsafe { *out_buf = state.out.as_mut_ptr() };
        state.out.len()
    })
}

/// AFL++: frees the state `afl_custom_init` made (null is ignored).
///
/// # Safety
/// `data` must be what `afl_custom_init` returned, deinitialised once.
#[no_mangle]
pub unsafe extern "C" fn afl_custom_deinit(data: *mut c_void) {
    guarded("afl_custom_deinit", (), || {
        if !data.is_null() {
            // SAFETY: made by `Box::into_raw` in `afl_custom_init`, and AFL++ frees it once.
            drop(unsafe { Box::from_raw(data.cast::<AflState>()) });
        }
    })
}

/// Decodes `data[..len]` with the reference decoder of `format` (an id) and writes its verdict, one
/// JSON line `{"ok","kind","fields","error"}`, NUL-terminated into `out_json` (`cap` bytes). Returns
/// the bytes written without the NUL; [`HH_ERR_NULL`], [`HH_ERR_UNKNOWN_FORMAT`] or
/// [`HH_ERR_PANIC`]; or, when `cap` is too small, `HH_ERR_TOO_SMALL - needed` (`out_json` then holds
/// an empty string when `cap` > 0; `out_json` may be null with `cap` 0 to ask for the size).
///
/// # Safety
/// `format` must be a NUL-terminated string; `data` must point to `len` readable bytes (or be null
/// with `len` 0); `out_json` must point to `cap` writable bytes (or be null with `cap` 0).
#[no_mangle]
pub unsafe extern "C" fn hh_decode(
    format_id: *const c_char,
    data: *const u8,
    len: usize,
    out_json: *mut c_char,
    cap: usize,
) -> i64 {
    guarded("hh_decode", HH_ERR_PANIC, || {
        if format_id.is_null() || (data.is_null() && len > 0) || (out_json.is_null() && cap > 0) {
            return HH_ERR_NULL;
        }
        // SAFETY: non-null, and the caller guarantees a NUL-terminated string.
        let id = unsafe { CStr::from_ptr(format_id) };
        let Some(format) = id.to_str().ok().and_then(format) else {
            return HH_ERR_UNKNOWN_FORMAT;
        };
        // SAFETY: `len` readable bytes at `data` (null only with `len` 0, checked above).
        let bytes = unsafe { input(data, len) };
        let json = crate::verdict_json(&(format.decode)(bytes));
        // SAFETY: `cap` writable bytes at `out_json` (null only with `cap` 0, checked above).
        let out = unsafe { output(out_json.cast::<u8>(), cap) };
        write_c_string(&json, out)
    })
}

/// Writes `text` and a NUL into `out`: its length, or the too-small code naming the size needed.
fn write_c_string(text: &str, out: &mut [u8]) -> i64 {
    let needed = text.len() + 1;
    let Some((body, rest)) = out.get_mut(..needed).map(|o| o.split_at_mut(text.len())) else {
        if let Some(first) = out.first_mut() {
            *first = 0;
        }
        return i64::try_from(needed).map_or(i64::MIN, |n| HH_ERR_TOO_SMALL.saturating_sub(n));
    };
    body.copy_from_slice(text.as_bytes());
    rest[0] = 0;
    i64::try_from(text.len()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_is_written_with_its_nul_or_the_size_it_needs_is_returned() {
        let mut out = [0xAAu8; 6];
        assert_eq!(write_c_string("abc", &mut out), 3);
        assert_eq!(&out[..4], b"abc\0");
        assert_eq!(write_c_string("abcde", &mut out), 5);
        assert_eq!(write_c_string("abcdef", &mut out), HH_ERR_TOO_SMALL - 7);
        assert_eq!(out[0], 0);
        assert_eq!(write_c_string("abc", &mut []), HH_ERR_TOO_SMALL - 4);
    }

    #[cfg(feature = "mediastream")]
    #[test]
    fn hh_decode_reports_null_unknown_and_small_buffers() {
        let mut out = [0u8; 512];
        let id = c"mediastream.datagram";
        // SAFETY: every pointer is a live local of the length given.
        let written = unsafe {
            hh_decode(
                id.as_ptr(),
                b"START".as_ptr(),
                5,
                out.as_mut_ptr().cast(),
                out.len(),
            )
        };
        let n = usize::try_from(written).expect("a length");
        assert!(out[..n].starts_with(b"{\"ok\":"), "{:?}", &out[..n]);
        assert_eq!(out[n], 0);
        // SAFETY: as above; the id is a NUL-terminated literal.
        let unknown = unsafe {
            hh_decode(
                c"no.such".as_ptr(),
                b"x".as_ptr(),
                1,
                out.as_mut_ptr().cast(),
                out.len(),
            )
        };
        assert_eq!(unknown, HH_ERR_UNKNOWN_FORMAT);
        // SAFETY: a null `out_json` with `cap` 0 only asks for the size.
        let ask = unsafe { hh_decode(id.as_ptr(), b"START".as_ptr(), 5, std::ptr::null_mut(), 0) };
        assert_eq!(HH_ERR_TOO_SMALL - ask, written + 1);
        // SAFETY: null data with a non-zero length is refused before any read.
        let null =
            unsafe { hh_decode(id.as_ptr(), std::ptr::null(), 3, out.as_mut_ptr().cast(), 8) };
        assert_eq!(null, HH_ERR_NULL);
    }

    #[test]
    fn the_afl_state_draws_a_new_seed_each_call() {
        let mut state = AflState {
            format: crate::formats().next().expect("a format"),
            seed: 7,
            calls: 0,
            out: Vec::new(),
        };
        let first = state.next_seed();
        assert_ne!(first, state.next_seed());
        assert_eq!(first >> 32, 7);
    }
}
