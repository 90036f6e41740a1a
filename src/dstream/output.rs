//! Output operations: `foreach_rdd`, `pprint`, `save_as_text_files` and `save_as_json_files`.
//!
//! An output operation runs once per batch the stream has (none for a window off its slide), on the
//! first worker (which gathers the batch's partitions from the others), after every output operation
//! has seen that batch, in the order they were registered: an operator queues the work when the batch
//! reaches it, and the context runs the queue as the probe's frontier passes each batch.

use std::cell::RefCell;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Probe;

use super::pyfmt::PyFormat;
use super::rdd::{Data, Rdd};
use super::stream::DStream;
use super::time::{batch_of, BatchTime};

/// The separator line `pprint` prints around the time.
const RULE: &str = "-------------------------------------------";

/// What `pprint(n)` prints for a batch: the time between two rules, at most `n` records, `...` if there
/// are more, and a blank line.
pub fn pprint_text<T: PyFormat>(time: BatchTime, utc: bool, n: usize, rdd: &Rdd<T>) -> String {
    let mut out = format!("{RULE}\nTime: {}\n{RULE}\n", time.format(utc));
    let mut records = rdd.iter();
    for record in records.by_ref().take(n) {
        record.py_str(&mut out);
        out.push('\n');
    }
    if records.next().is_some() {
        out.push_str("...\n");
    }
    out.push('\n');
    out
}

impl<'s, T: Data> DStream<'s, T> {
    /// Calls `f(time, batch)` for every batch of this stream (Spark's `foreachRDD`); the batch's
    /// partitions are [`Rdd::partitions`].
    pub fn foreach_rdd(&self, f: impl FnMut(BatchTime, &Rdd<T>) + 'static) {
        let graph = self.graph.clone();
        let rank = graph.next_output();
        let f = Rc::new(RefCell::new(f));
        let queue = graph.clone();
        let leader = graph.worker == 0;
        self.gathered()
            .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                Pipeline,
                "ForeachRdd",
                move |_cap, _info| {
                    move |input, _output| {
                        input.for_each(|cap, data| {
                            let batch = batch_of(*cap.least().expect("a message has a time"));
                            let time = queue.clock.time(batch);
                            for slice in data.drain(..).filter(|_| leader) {
                                let rdd = slice.into_rdd();
                                let f = f.clone();
                                queue.queue_job(
                                    batch,
                                    rank,
                                    Box::new(move || (f.borrow_mut())(time, &rdd)),
                                );
                            }
                        });
                    }
                },
            )
            .probe_with(&graph.probe);
    }

    /// Prints the first `n` records of every batch under a header with its time, as Spark's `pprint`.
    pub fn pprint(&self, n: usize)
    where
        T: PyFormat,
    {
        self.pprint_to(n, |text| {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
        });
    }

    /// What [`DStream::pprint`] prints, handed to `out` instead.
    pub fn pprint_to(&self, n: usize, mut out: impl FnMut(&str) + 'static)
    where
        T: PyFormat,
    {
        let utc = self.graph.utc;
        self.foreach_rdd(move |time, rdd| out(&pprint_text(time, utc, n, rdd)));
    }

    /// Writes every batch to a directory `prefix-<time ms>[.suffix]`, a file `part-NNNNN` per partition
    /// with one record per line as Python prints it, and an empty `_SUCCESS` (Spark's
    /// `saveAsTextFiles`). A failure to write fails the run.
    pub fn save_as_text_files(&self, prefix: impl Into<String>, suffix: impl Into<String>)
    where
        T: PyFormat,
    {
        self.save_files(prefix.into(), suffix.into(), |record, line| {
            record.py_str(line);
            Ok(())
        });
    }

    /// [`DStream::save_as_text_files`] with one JSON object per line.
    pub fn save_as_json_files(&self, prefix: impl Into<String>, suffix: impl Into<String>)
    where
        T: serde::Serialize,
    {
        self.save_files(prefix.into(), suffix.into(), |record, line| {
            line.push_str(&serde_json::to_string(record)?);
            Ok(())
        });
    }

    fn save_files(
        &self,
        prefix: String,
        suffix: String,
        write: impl Fn(&T, &mut String) -> Result<(), serde_json::Error> + 'static,
    ) {
        let control = self.graph.control.clone();
        self.foreach_rdd(move |time, rdd| {
            let dir = batch_directory(&prefix, &suffix, time);
            if let Err(e) = write_batch(&dir, rdd, &write) {
                control.fail(format!("cannot write {}: {e}", dir.display()));
            }
        });
    }
}

/// `prefix-<time ms>.suffix`, or `prefix-<time ms>` without a suffix.
pub fn batch_directory(prefix: &str, suffix: &str, time: BatchTime) -> PathBuf {
    if suffix.is_empty() {
        PathBuf::from(format!("{prefix}-{}", time.ms))
    } else {
        PathBuf::from(format!("{prefix}-{}.{suffix}", time.ms))
    }
}

fn write_batch<T>(
    dir: &Path,
    rdd: &Rdd<T>,
    write: &impl Fn(&T, &mut String) -> Result<(), serde_json::Error>,
) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut line = String::new();
    for (i, part) in rdd.partitions().enumerate() {
        let mut file = BufWriter::new(fs::File::create(dir.join(format!("part-{i:05}")))?);
        for record in part {
            line.clear();
            write(record, &mut line).map_err(std::io::Error::other)?;
            line.push('\n');
            file.write_all(line.as_bytes())?;
        }
        file.flush()?;
    }
    fs::File::create(dir.join("_SUCCESS"))?;
    Ok(())
}
