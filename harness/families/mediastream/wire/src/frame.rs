//! Frame sizing and the fragmentation planner, as ctsTraffic codes them.
//!
//! A frame of F bytes **includes the 26-byte header of each of its datagrams**. It is cut into datagrams
//! of at most M bytes; when the last would be 1..=26 bytes (a header with nothing, or less), the one before
//! it is shortened so the last is exactly 27 bytes.

use core::fmt;

use super::field::HEADER_LEN;

/// The smallest frame the frame-size rule allows.
pub const MIN_FRAME_SIZE: u64 = 40;
/// The length of the last datagram when the tail rule applies.
pub const TAIL_LEN: u64 = HEADER_LEN as u64 + 1;
/// The smallest frame the planner takes (one 27-byte datagram).
pub const MIN_PLANNED_FRAME: u64 = TAIL_LEN;
/// The smallest maximum datagram size the planner takes: a datagram shortened by the tail rule
/// (M − 26 bytes at worst) must still carry a payload byte. This project's decision; the facts are silent.
pub const MIN_MAX_DATAGRAM: u64 = 2 * TAIL_LEN - 1;

/// Why a frame size cannot be derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameSizeError {
    /// A frame rate of 0.
    ZeroFrameRate,
    /// The frame would be smaller than [`MIN_FRAME_SIZE`].
    FrameTooSmall {
        /// The computed size.
        frame_size: u64,
        /// The minimum.
        min: u64,
    },
}

impl fmt::Display for FrameSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameSizeError::ZeroFrameRate => f.write_str("frame rate must be at least 1"),
            FrameSizeError::FrameTooSmall { frame_size, min } => write!(
                f,
                "frame size {frame_size} bytes is below the minimum of {min}: raise the bit rate or lower the frame rate"
            ),
        }
    }
}

impl std::error::Error for FrameSizeError {}

/// Frame size F = floor((bits_per_second / 8) / frame_rate) bytes, headers included; F ≥ 40.
pub fn frame_size(bits_per_second: u64, frame_rate: u32) -> Result<u64, FrameSizeError> {
    if frame_rate == 0 {
        return Err(FrameSizeError::ZeroFrameRate);
    }
    let frame_size = bits_per_second / 8 / u64::from(frame_rate);
    if frame_size < MIN_FRAME_SIZE {
        return Err(FrameSizeError::FrameTooSmall {
            frame_size,
            min: MIN_FRAME_SIZE,
        });
    }
    Ok(frame_size)
}

/// Why a frame cannot be planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlanError {
    /// The frame is smaller than [`MIN_PLANNED_FRAME`].
    FrameTooSmall {
        /// The frame size.
        frame_size: u64,
        /// The minimum.
        min: u64,
    },
    /// The maximum datagram size is smaller than [`MIN_MAX_DATAGRAM`].
    DatagramTooSmall {
        /// The maximum datagram size.
        max_datagram: u64,
        /// The minimum.
        min: u64,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::FrameTooSmall { frame_size, min } => {
                write!(
                    f,
                    "frame of {frame_size} bytes is below the minimum of {min}"
                )
            }
            PlanError::DatagramTooSmall { max_datagram, min } => write!(
                f,
                "maximum datagram size {max_datagram} is below the minimum of {min}"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

/// How one frame is cut into datagrams. Computes every datagram on demand: no allocation, O(1) each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragmentPlan {
    frame_size: u64,
    max_datagram: u64,
    count: u64,
    /// Whether the tail rule shortened the second-to-last datagram.
    shortened: bool,
}

/// One planned datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlannedDatagram {
    /// Position within the frame, from 0.
    pub index: u64,
    /// Byte offset of the datagram within the frame (headers counted, as in F).
    pub offset: u64,
    /// Datagram length, header included.
    pub len: u64,
}

impl FragmentPlan {
    /// Plans a frame of `frame_size` bytes into datagrams of at most `max_datagram` bytes.
    pub fn new(frame_size: u64, max_datagram: u64) -> Result<FragmentPlan, PlanError> {
        if max_datagram < MIN_MAX_DATAGRAM {
            return Err(PlanError::DatagramTooSmall {
                max_datagram,
                min: MIN_MAX_DATAGRAM,
            });
        }
        if frame_size < MIN_PLANNED_FRAME {
            return Err(PlanError::FrameTooSmall {
                frame_size,
                min: MIN_PLANNED_FRAME,
            });
        }
        let count = frame_size.div_ceil(max_datagram);
        let remainder = frame_size % max_datagram;
        Ok(FragmentPlan {
            frame_size,
            max_datagram,
            count,
            shortened: count > 1 && (1..TAIL_LEN).contains(&remainder),
        })
    }

    /// The frame size.
    pub const fn frame_size(&self) -> u64 {
        self.frame_size
    }

    /// The maximum datagram size.
    pub const fn max_datagram(&self) -> u64 {
        self.max_datagram
    }

    /// How many datagrams the frame takes.
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// The `index`th datagram.
    pub fn datagram(&self, index: u64) -> Option<PlannedDatagram> {
        if index >= self.count {
            return None;
        }
        let last = self.count - 1;
        let offset = index * self.max_datagram;
        let len = if index < last {
            if self.shortened && index + 1 == last {
                self.frame_size - TAIL_LEN - offset
            } else {
                self.max_datagram
            }
        } else if self.shortened {
            TAIL_LEN
        } else {
            self.frame_size - offset
        };
        let offset = if self.shortened && index == last {
            self.frame_size - TAIL_LEN
        } else {
            offset
        };
        Some(PlannedDatagram { index, offset, len })
    }

    /// Every datagram, in order.
    pub fn iter(&self) -> PlannedDatagrams {
        PlannedDatagrams {
            plan: *self,
            next: 0,
        }
    }
}

impl IntoIterator for FragmentPlan {
    type Item = PlannedDatagram;
    type IntoIter = PlannedDatagrams;
    fn into_iter(self) -> PlannedDatagrams {
        self.iter()
    }
}

/// Iterator over a [`FragmentPlan`].
#[derive(Clone, Debug)]
pub struct PlannedDatagrams {
    plan: FragmentPlan,
    next: u64,
}

impl Iterator for PlannedDatagrams {
    type Item = PlannedDatagram;

    fn next(&mut self) -> Option<PlannedDatagram> {
        let d = self.plan.datagram(self.next)?;
        self.next += 1;
        Some(d)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.plan.count.saturating_sub(self.next)).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

impl ExactSizeIterator for PlannedDatagrams {}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn sizes(frame: u64, max: u64) -> Vec<u64> {
        FragmentPlan::new(frame, max)
            .expect("valid plan")
            .iter()
            .map(|d| d.len)
            .collect()
    }

    #[rstest]
    #[case(27, vec![27])]
    #[case(1399, vec![1399])]
    #[case(1400, vec![1400])]
    #[case(1401, vec![1374, 27])]
    #[case(1426, vec![1399, 27])]
    #[case(1427, vec![1400, 27])]
    #[case(2800, vec![1400, 1400])]
    #[case(2801, vec![1400, 1374, 27])]
    fn planner_table_from_the_facts(#[case] frame: u64, #[case] expected: Vec<u64>) {
        assert_eq!(sizes(frame, 1400), expected);
    }

    #[test]
    fn huge_frame_count_from_the_facts() {
        let plan = FragmentPlan::new(123_456_789, 1400).expect("valid");
        assert_eq!(plan.count(), 88_184);
        assert_eq!(plan.iter().map(|d| d.len).sum::<u64>(), 123_456_789);
    }

    #[test]
    fn offsets_tile_the_frame_and_every_datagram_carries_payload() {
        for max in [53u64, 54, 100, 576, 1400, 9000] {
            for frame in (27..3 * max).step_by(7).chain([max, max + 1, 2 * max + 26]) {
                let plan = FragmentPlan::new(frame, max).expect("valid");
                let mut next = 0;
                for d in plan.iter() {
                    assert_eq!(d.offset, next, "frame {frame} max {max}");
                    assert!(
                        (TAIL_LEN..=max).contains(&d.len),
                        "frame {frame} max {max}: {d:?}"
                    );
                    next += d.len;
                }
                assert_eq!(next, frame);
            }
        }
    }

    #[rstest]
    #[case(1_000_000, 1000, Ok(125))]
    #[case(1_000_000, 100, Ok(1250))]
    #[case(8 * 39, 1, Err(FrameSizeError::FrameTooSmall { frame_size: 39, min: 40 }))]
    #[case(8 * 40, 1, Ok(40))]
    #[case(1, 0, Err(FrameSizeError::ZeroFrameRate))]
    #[case(u64::MAX, 1, Ok(u64::MAX / 8))]
    fn frame_size_rule(
        #[case] bps: u64,
        #[case] rate: u32,
        #[case] expected: Result<u64, FrameSizeError>,
    ) {
        assert_eq!(frame_size(bps, rate), expected);
    }

    #[test]
    fn planner_limits() {
        assert_eq!(
            FragmentPlan::new(100, 52),
            Err(PlanError::DatagramTooSmall {
                max_datagram: 52,
                min: 53
            })
        );
        assert_eq!(
            FragmentPlan::new(26, 1400),
            Err(PlanError::FrameTooSmall {
                frame_size: 26,
                min: 27
            })
        );
        assert_eq!(
            FragmentPlan::new(u64::MAX, 53).map(|p| p.count()),
            Ok(u64::MAX.div_ceil(53))
        );
    }
}
