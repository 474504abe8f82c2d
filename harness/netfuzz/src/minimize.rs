//! Delta debugging (Zeller and Hildebrandt's ddmin): the smallest subsequence (1-minimal) of the
//! items for which a test still fails, in O(n²) test runs at worst. Used over a finding's steps,
//! then over the bytes of each payload.

/// A 1-minimal subsequence of `items` for which `fails` holds (`fails(items)` must hold; if it
/// does not, `items` is returned unchanged). Order is kept.
pub fn ddmin<T: Clone>(items: &[T], fails: impl FnMut(&[T]) -> bool) -> Vec<T> {
    ddmin_within(items, usize::MAX, fails)
}

/// [`ddmin`] with at most `budget` test runs (each run of an external implementation costs real
/// time): when the budget is spent, the smallest failing subsequence found so far.
pub fn ddmin_within<T: Clone>(
    items: &[T],
    budget: usize,
    mut fails: impl FnMut(&[T]) -> bool,
) -> Vec<T> {
    let mut runs = 0usize;
    let mut fails = move |s: &[T]| {
        if runs >= budget {
            return false;
        }
        runs += 1;
        fails(s)
    };
    let mut current: Vec<T> = items.to_vec();
    if !fails(&current) {
        return current;
    }
    let mut n = 2usize;
    while current.len() >= 2 {
        let chunk = current.len().div_ceil(n);
        let chunks: Vec<(usize, usize)> = (0..current.len())
            .step_by(chunk)
            .map(|start| (start, (start + chunk).min(current.len())))
            .collect();
        let mut reduced = false;
        // A chunk alone fails: keep only it.
        for &(a, b) in &chunks {
            let subset = current[a..b].to_vec();
            if fails(&subset) {
                current = subset;
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced {
            // Its complement fails: drop the chunk.
            for &(a, b) in &chunks {
                let complement: Vec<T> =
                    current[..a].iter().chain(&current[b..]).cloned().collect();
                if !complement.is_empty() && fails(&complement) {
                    current = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (n * 2).min(current.len());
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_two_items_that_matter() {
        let items: Vec<u32> = (0..40).collect();
        let mut runs = 0;
        let min = ddmin(&items, |s| {
            runs += 1;
            s.contains(&7) && s.contains(&31)
        });
        assert_eq!(min, vec![7, 31]);
        assert!(runs < 200, "{runs} runs");
    }

    #[test]
    fn a_single_cause_is_found_and_order_is_kept() {
        let items = b"the quick brown fox".to_vec();
        assert_eq!(ddmin(&items, |s| s.contains(&b'q')), b"q".to_vec());
        let min = ddmin(&items, |s| {
            let text = String::from_utf8_lossy(s);
            text.find('b')
                .zip(text.find('x'))
                .is_some_and(|(b, x)| b < x)
        });
        assert_eq!(min, b"bx".to_vec());
    }

    #[test]
    fn a_spent_budget_keeps_the_smallest_failing_input_so_far() {
        let items: Vec<u32> = (0..64).collect();
        let mut runs = 0;
        let min = ddmin_within(&items, 6, |s| {
            runs += 1;
            s.contains(&5)
        });
        assert_eq!(runs, 6);
        assert!(min.contains(&5) && min.len() < 64, "{min:?}");
    }

    #[test]
    fn an_input_that_does_not_fail_is_returned_whole() {
        let items = vec![1, 2, 3];
        assert_eq!(ddmin(&items, |_| false), items);
    }
}
