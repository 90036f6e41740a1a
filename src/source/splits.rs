//! Hadoop's input splits of a text file, as Spark's `textFileStream` reads a new file: one RDD
//! partition per split (`FileInputFormat.getSplits` of the new-API `TextInputFormat`).
//!
//! A file of `len` bytes is cut into splits of `size` bytes (Hadoop's `min(split.maxsize, block
//! size)`; the local file system's block size is 32 MiB), except that the last split takes the rest
//! when less than 1.1 splits' worth remain (`SPLIT_SLOP`). An empty file has no split (Spark skips
//! empty splits). A line belongs to the split in which it starts, except that a line starting exactly
//! at a split's start belongs to the split before (Hadoop's `LineRecordReader` skips the first line of
//! every split but the first, and reads one line past its split's end): so a long line can leave
//! the splits it crosses with no line at all.

/// The local file system's block size (`fs.local.block.size`), Hadoop's split size for local files.
pub const LOCAL_SPLIT_BYTES: u64 = 32 * 1024 * 1024;

/// Hadoop's `FileInputFormat.SPLIT_SLOP`.
const SPLIT_SLOP: f64 = 1.1;

/// How many splits a file of `len` bytes has, with splits of `size` bytes.
pub fn split_count(len: u64, size: u64) -> u64 {
    let size = size.max(1);
    let mut remaining = len;
    let mut count = 0;
    while remaining as f64 / size as f64 > SPLIT_SLOP {
        count += 1;
        remaining -= size;
    }
    count + u64::from(remaining > 0)
}

/// Which of a file's `count` splits (of `size` bytes) reads the line that starts at byte `start`.
pub fn split_of(start: u64, size: u64, count: u64) -> u64 {
    let size = size.max(1);
    start
        .div_ceil(size)
        .saturating_sub(1)
        .min(count.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_as_hadoop_cuts_them() {
        assert_eq!(split_count(0, 100), 0, "an empty file has no split");
        assert_eq!(split_count(1, 100), 1);
        assert_eq!(split_count(100, 100), 1);
        assert_eq!(split_count(110, 100), 1, "1.1 splits' worth is one split");
        assert_eq!(split_count(111, 100), 2);
        assert_eq!(split_count(250, 100), 3);
        assert_eq!(split_count(311, 100), 4);
        assert_eq!(split_count(u64::from(u32::MAX), LOCAL_SPLIT_BYTES), 128);
    }

    #[test]
    fn a_line_belongs_to_the_split_it_starts_in_or_the_one_before_at_a_boundary() {
        // 250 bytes in splits [0, 100), [100, 200), [200, 250).
        let at = |start| split_of(start, 100, 3);
        assert_eq!(at(0), 0);
        assert_eq!(at(99), 0);
        assert_eq!(
            at(100),
            0,
            "a line starting at a split's start is the split before's"
        );
        assert_eq!(at(101), 1);
        assert_eq!(at(200), 1);
        assert_eq!(at(201), 2);
        // The last split is longer than the others when the rest is under 1.1 splits.
        assert_eq!(split_of(105, 100, 1), 0);
    }
}
